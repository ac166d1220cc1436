/**
 * Proves the end-to-end harness with real daemons and no bgproxy code: two namespaces joined
 * by a veth, BIRD "router" in A announcing 3 IPv4 and 2 IPv6 prefixes over one IPv4 session
 * to a passive multihop BIRD "collector" in B; then a withdrawal by reconfiguration.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bird, type BirdConfig } from "../support/bird.ts";
import {
  createdNetns,
  createNetns,
  destroyAllNetns,
  linkNetns,
  listNetns,
  type Netns,
  type VethLink,
} from "../support/netns.ts";
import { canRunNetns, skipNote } from "../support/root.ts";

const V4 = ["10.255.200.0/24", "10.255.201.0/24", "10.255.202.0/24"];
const V6 = ["fd00:255:200::/48", "fd00:255:201::/48"];
const ROUTER_AS = 65001;
const COLLECTOR_AS = 65002;

describe.skipIf(!canRunNetns)(`e2e harness: BIRD to BIRD in namespaces${skipNote}`, () => {
  let nsA: Netns;
  let nsB: Netns;
  let link: VethLink;
  let router: Bird | undefined;
  let collector: Bird | undefined;
  let routerConfig: BirdConfig;

  beforeAll(async () => {
    nsA = await createNetns();
    nsB = await createNetns();
    link = await linkNetns(nsA, nsB);
    collector = await Bird.start(
      {
        routerId: link.b.ipv4,
        asn: COLLECTOR_AS,
        neighbors: [
          {
            name: "to_router",
            address: link.a.ipv4,
            asn: ROUTER_AS,
            localAddress: link.b.ipv4,
            passive: true,
            multihop: true,
            export: "none",
          },
        ],
      },
      { netns: nsB, label: "collector" },
    );
    routerConfig = {
      routerId: link.a.ipv4,
      asn: ROUTER_AS,
      neighbors: [
        {
          name: "to_collector",
          address: link.b.ipv4,
          asn: COLLECTOR_AS,
          localAddress: link.a.ipv4,
          import: "none",
        },
      ],
      static4: V4,
      static6: V6,
    };
    router = await Bird.start(routerConfig, { netns: nsA, label: "router" });
  }, 30_000);

  afterAll(async () => {
    await router?.stop();
    await collector?.stop();
    await destroyAllNetns();
  }, 30_000);

  test("namespaces exist and the veth carries IPv4 and IPv6", async () => {
    const names = await listNetns();
    expect(names).toContain(nsA.name);
    expect(names).toContain(nsB.name);
    const addrs = await nsA.exec(["ip", "-brief", "addr", "show", "dev", link.a.ifname]);
    expect(addrs.stdout).toContain(`${link.a.ipv4}/24`);
    expect(addrs.stdout).toContain(`${link.a.ipv6}/64`);
  });

  test("the session reaches Established on both sides", async () => {
    await collector?.waitEstablished("to_router", 20_000);
    await router?.waitEstablished("to_collector", 5_000);
    expect((await collector?.protocolState("to_router"))?.state).toBe("up");
  }, 30_000);

  test("the collector holds exactly the 3 IPv4 and 2 IPv6 prefixes", async () => {
    const all = [...V4, ...V6].sort();
    expect(await collector?.waitRoutes(all, 20_000)).toEqual(all);
    expect(await collector?.routes("master4")).toEqual([...V4].sort());
    expect(await collector?.routes("master6")).toEqual([...V6].sort());
    expect(await collector?.routeCount("master4")).toBe(3);
    expect(await collector?.routeCount("master6")).toBe(2);
    expect(await collector?.routeCount()).toBe(5);
  }, 30_000);

  test("withdrawing one IPv4 and one IPv6 prefix removes them from the collector", async () => {
    await router?.configure({ ...routerConfig, static4: V4.slice(0, 2), static6: V6.slice(0, 1) });
    const remaining = [...V4.slice(0, 2), ...V6.slice(0, 1)].sort();
    expect(await collector?.waitRoutes(remaining, 20_000)).toEqual(remaining);
    expect(await collector?.routeCount()).toBe(3);
    // The session survived the reconfiguration: withdrawals, not a reset.
    expect((await collector?.protocolState("to_router"))?.info).toStartWith("Established");
  }, 30_000);

  test("cleanup leaves no namespace behind", async () => {
    const mine = createdNetns();
    expect(mine).toEqual([nsA.name, nsB.name]);
    await router?.stop();
    await collector?.stop();
    router = undefined;
    collector = undefined;
    await destroyAllNetns();
    expect(createdNetns()).toEqual([]);
    const left = await listNetns();
    for (const name of mine) expect(left).not.toContain(name);
  }, 30_000);
});
