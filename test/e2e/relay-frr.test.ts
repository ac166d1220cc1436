/**
 * The forward path with a router that is not BIRD: FRR's bgpd (8.4, without zebra) in namespace
 * R peers with `bgproxy agent` in P; the gateway in P forwards the session to a BIRD collector
 * in C. IPv4 and IPv6 prefixes over the IPv4 session: FRR without zebra announces IPv6 routes
 * with next hop `::` unless a route-map sets one (test/support/frr.ts renders it from
 * `ipv6NextHop`). Topology: test/support/relay-topology.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type BgproxyProcess,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird, parseRoutePrefixes, SINCE_JITTER_MS, sinceApartMs } from "../support/bird.ts";
import { Frr, frrMissing } from "../support/frr.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.220.0/24", "10.255.221.0/24", "10.255.222.0/24"];
const V6 = ["fd00:255:220::/48", "fd00:255:221::/48"];
const V4_AFTER = V4.slice(0, 2);
const V6_AFTER = V6.slice(0, 1);
const ROUTER_AS = 65001;
const COLLECTOR_AS = 64512;

const frrProblem = canRunNetns ? frrMissing() : "";
const note = skipNote || (frrProblem ? ` [skipped: ${frrProblem}]` : "");

describe.skipIf(!canRunNetns || frrProblem !== "")(
  `e2e relay: FRR router -> agent -> gateway -> BIRD collector${note}`,
  () => {
    let topo: RelayTopology;
    let collector: Bird | undefined;
    let router: Frr | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;

    const diagnostics = () =>
      [
        router ? `--- router FRR\n${router.logTail(20)}` : "",
        collector ? `--- collector BIRD\n${collector.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(25)}` : "",
        gateway ? `--- gateway\n${gateway.tail(25)}` : "",
      ].join("\n");

    const routesFromRouter = async () =>
      parseRoutePrefixes((await collector?.birdc("show", "route", "protocol", "from_frr")) ?? "");

    const waitCollectorRoutes = async (expected: readonly string[]) => {
      const want = [...expected].sort();
      let last: string[] = [];
      return waitUntil(
        async () => {
          last = await routesFromRouter();
          return JSON.stringify(last) === JSON.stringify(want) ? last : undefined;
        },
        {
          timeoutMs: 20_000,
          what: `collector: routes from FRR = ${JSON.stringify(want)}`,
          diagnostics: async () =>
            `last seen: ${JSON.stringify(last)}; FRR advertised: ${JSON.stringify(
              await router?.advertised(topo.rp.b.ipv4).catch(String),
            )}\n${diagnostics()}`,
        },
      );
    };

    beforeAll(async () => {
      topo = await createRelayTopology({ collector: true });
      const { rp, pc } = topo;
      if (!pc || !topo.collector) throw new Error("topology without a collector namespace");
      collector = await Bird.start(
        {
          routerId: pc.b.ipv4,
          asn: COLLECTOR_AS,
          neighbors: [
            {
              name: "from_frr",
              address: pc.a.ipv4,
              asn: ROUTER_AS,
              localAddress: pc.b.ipv4,
              passive: true,
              multihop: true,
              export: "none",
            },
          ],
        },
        { netns: topo.collector, label: "collector" },
      );
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec: {
          collector: { asn: COLLECTOR_AS, routerId: "192.0.2.1" },
          devices: [
            {
              name: "edge-frr",
              id: 2001,
              ip: rp.a.ipv4,
              target: "forward",
              forward: `${pc.b.ipv4}:179`,
              forwardSource: pc.a.ipv4,
            },
          ],
        },
      });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`],
        target: gateway.target,
      });
      router = await Frr.start(
        {
          routerId: rp.a.ipv4,
          asn: ROUTER_AS,
          neighbors: [
            {
              address: rp.b.ipv4,
              asn: COLLECTOR_AS,
              updateSource: rp.a.ipv4,
              ipv6NextHop: rp.a.ipv6,
            },
          ],
          static4: V4,
          static6: V6,
        },
        { netns: topo.router, label: "router" },
      );
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await agent?.stop();
      await gateway?.stop();
      await collector?.stop();
      await destroyAllNetns();
    }, 30_000);

    test("the session is Established on FRR and on the collector", async () => {
      await router?.waitEstablished(topo.rp.b.ipv4, 20_000, diagnostics);
      await collector?.waitEstablished("from_frr", 10_000);
      expect((await gateway?.device("edge-frr"))?.sessions).toBe(1);
    }, 30_000);

    test("the collector holds FRR's 3 IPv4 and 2 IPv6 prefixes with FRR's attributes", async () => {
      const all = [...V4, ...V6].sort();
      expect(await waitCollectorRoutes(all)).toEqual(all);
      expect(await collector?.routeCount("master4")).toBe(3);
      expect(await collector?.routeCount("master6")).toBe(2);
      const detail = (await collector?.birdc("show", "route", "all", "protocol", "from_frr")) ?? "";
      // The router's own announcement, carried unchanged: its AS path and its next hops.
      const asPaths = [...detail.matchAll(/BGP\.as_path: (.*)/g)].map((m) => m[1]);
      expect(asPaths).toEqual(Array(5).fill(String(ROUTER_AS)));
      expect(detail).toContain(`BGP.next_hop: ${topo.rp.a.ipv4}`);
      expect(detail).toContain(`BGP.next_hop: ${topo.rp.a.ipv6}`);
    }, 30_000);

    test("withdrawals on FRR remove the prefixes at the collector, session kept", async () => {
      const before = await collector?.protocolState("from_frr");
      await router?.setStatics(V4_AFTER, V6_AFTER);
      const remaining = [...V4_AFTER, ...V6_AFTER].sort();
      expect(await waitCollectorRoutes(remaining)).toEqual(remaining);
      const now = await collector?.protocolState("from_frr");
      expect(now?.info).toStartWith("Established");
      expect(sinceApartMs(now?.since ?? "", before?.since ?? "")).toBeLessThan(SINCE_JITTER_MS);
      expect(agent?.find(/^session (closed|ended)$/)).toEqual([]);
      expect(await router?.neighborState(topo.rp.b.ipv4)).toBe("Established");
    }, 30_000);
  },
);
