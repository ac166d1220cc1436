/**
 * The whole relay with real processes and real BGP daemons: a BIRD router in namespace R peers
 * with `bgproxy agent` in P, which relays the session over gRPC (P's loopback) to
 * `bgproxy gateway` in P, which forwards it (from 10.255.c.1) to a BIRD collector in C. The BGP
 * session is end to end: the router (AS 65001) talks to the collector (AS 64512) and the bgproxy
 * processes only carry bytes. Namespaces and addresses: see test/support/relay-topology.ts.
 *
 * Covered: IPv4 and IPv6 prefixes over an IPv4-transport session and over an IPv6-transport
 * session (agent on [fd00:255:r::2]:179); withdrawals; an unknown router address refused and
 * deny-listed once, without disturbing the known router. The built-in collector path is in
 * relay-collector.test.ts. The tests share one topology and run in file order (the withdrawal
 * changes what the router announces); the last one stops the agent and the gateway.
 *
 * Quirks (BIRD 2.0.12): the collector BIRD is `passive` (the gateway dials it; nothing in P
 * listens for it on 10.255.c.1) and `multihop` (the routes' next hop is the router, not on its
 * network); the router's IPv6-transport session needs `next hop address` on its ipv4 channel
 * (IPv4 routes over an IPv6 session). The two router sessions reach the collector from two
 * forward sources (10.255.c.1 and .3) because BIRD tells its neighbours apart by address.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type BgproxyProcess,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import {
  Bird,
  type BirdConfig,
  parseRoutePrefixes,
  SINCE_JITTER_MS,
  sinceApartMs,
} from "../support/bird.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { run } from "../support/process.ts";
import {
  agentNeighbor,
  createRelayTopology,
  hostIn,
  type RelayTopology,
} from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.200.0/24", "10.255.201.0/24", "10.255.202.0/24"];
const V6 = ["fd00:255:200::/48", "fd00:255:201::/48"];
const V4_AFTER = V4.slice(0, 2);
const V6_AFTER = V6.slice(0, 1);
const ROUTER_AS = 65001;
const COLLECTOR_AS = 64512;
const UNKNOWN_HOST = 3;
const SECOND_SOURCE_HOST = 3;

const sorted = (a: readonly string[]) => [...a].sort();

describe.skipIf(!canRunNetns)(
  `e2e relay: BIRD router -> agent -> gateway -> BIRD collector${skipNote}`,
  () => {
    let topo: RelayTopology;
    let collector: Bird | undefined;
    let router: Bird | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    let routerConfig: BirdConfig;

    /** Everything that helps explain a failed wait. */
    const diagnostics = () =>
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        collector ? `--- collector BIRD\n${collector.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(25)}` : "",
        gateway ? `--- gateway\n${gateway.tail(25)}` : "",
      ].join("\n");

    /** Prefixes the collector learned from one protocol (all its tables). */
    const routesFrom = async (protocol: string) =>
      parseRoutePrefixes((await collector?.birdc("show", "route", "protocol", protocol)) ?? "");

    const waitRoutesFrom = async (protocol: string, expected: readonly string[]) => {
      const want = sorted(expected);
      let last: string[] = [];
      return waitUntil(
        async () => {
          last = await routesFrom(protocol);
          return JSON.stringify(last) === JSON.stringify(want) ? last : undefined;
        },
        {
          timeoutMs: 20_000,
          what: `collector: routes from ${protocol} = ${JSON.stringify(want)}`,
          diagnostics: async () => `last seen: ${JSON.stringify(last)}\n${diagnostics()}`,
        },
      );
    };

    const waitEstablished = async (bird: Bird | undefined, protocol: string) => {
      if (!bird) throw new Error("BIRD not started");
      await waitUntil(
        async () => (await bird.protocolState(protocol))?.info.startsWith("Established"),
        {
          timeoutMs: 20_000,
          what: `${bird.label}: ${protocol} Established`,
          diagnostics: async () =>
            `${await bird.birdc("show", "protocols", "all", protocol).catch(String)}\n${diagnostics()}`,
        },
      );
    };

    beforeAll(async () => {
      topo = await createRelayTopology({
        collector: true,
        extraRouterHosts: [UNKNOWN_HOST],
        extraForwardHosts: [SECOND_SOURCE_HOST],
      });
      const { rp } = topo;
      const pc = topo.pc;
      if (!pc || !topo.collector) throw new Error("topology without a collector namespace");
      const source6 = hostIn(pc, SECOND_SOURCE_HOST);

      const collectorSide = {
        asn: ROUTER_AS,
        localAddress: pc.b.ipv4,
        passive: true,
        multihop: true,
        export: "none",
      } as const;
      collector = await Bird.start(
        {
          routerId: pc.b.ipv4,
          asn: COLLECTOR_AS,
          neighbors: [
            { name: "from_r4", address: pc.a.ipv4, ...collectorSide },
            { name: "from_r6", address: source6, ...collectorSide },
          ],
        },
        { netns: topo.collector, label: "collector" },
      );

      const forward = `${pc.b.ipv4}:179`;
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec: {
          collector: { asn: COLLECTOR_AS, routerId: "192.0.2.1" },
          devices: [
            {
              name: "edge-r1",
              id: 1001,
              ip: rp.a.ipv4,
              target: "forward",
              forward,
              forwardSource: pc.a.ipv4,
            },
            {
              name: "edge-r1-v6",
              id: 1002,
              ip: rp.a.ipv6,
              target: "forward",
              forward,
              forwardSource: source6,
            },
          ],
        },
      });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`, `[${rp.b.ipv6}]:179`],
        target: gateway.target,
      });

      routerConfig = {
        routerId: rp.a.ipv4,
        asn: ROUTER_AS,
        neighbors: [agentNeighbor(rp, 4, COLLECTOR_AS), agentNeighbor(rp, 6, COLLECTOR_AS)],
        static4: V4,
        static6: V6,
      };
      router = await Bird.start(routerConfig, { netns: topo.router, label: "router" });
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await agent?.stop();
      await gateway?.stop();
      await collector?.stop();
      await destroyAllNetns();
    }, 30_000);

    test("the IPv4-transport session is Established on the router and on the collector", async () => {
      await waitEstablished(router, "to_agent4");
      await waitEstablished(collector, "from_r4");
      expect((await router?.protocolState("to_agent4"))?.state).toBe("up");
      expect((await collector?.protocolState("from_r4"))?.state).toBe("up");
      // The gateway counts a live session for the device (a forwarded one is not parsed).
      const device = await gateway?.device("edge-r1");
      expect(device?.sessions).toBe(1);
      expect(device?.state).not.toBe("idle");
    }, 30_000);

    test("the collector holds the router's 3 IPv4 and 2 IPv6 prefixes", async () => {
      const all = sorted([...V4, ...V6]);
      expect(await waitRoutesFrom("from_r4", all)).toEqual(all);
      expect(await collector?.routes("master4")).toEqual(sorted(V4));
      expect(await collector?.routes("master6")).toEqual(sorted(V6));
      // The router's announcement arrives unchanged: its AS path and its own next hops.
      const detail = (await collector?.birdc("show", "route", "all", "protocol", "from_r4")) ?? "";
      const asPaths = [...detail.matchAll(/BGP\.as_path: (.*)/g)].map((m) => m[1]);
      expect(asPaths).toEqual(Array(5).fill(String(ROUTER_AS)));
      expect(detail).toContain(`BGP.next_hop: ${topo.rp.a.ipv4}`);
      expect(detail).toContain(`BGP.next_hop: ${topo.rp.a.ipv6}`);
    }, 30_000);

    test("the same over IPv6 transport (router fd00:255:r::1 to the agent's [fd00:255:r::2]:179)", async () => {
      await waitEstablished(router, "to_agent6");
      await waitEstablished(collector, "from_r6");
      const all = sorted([...V4, ...V6]);
      expect(await waitRoutesFrom("from_r6", all)).toEqual(all);
      expect((await gateway?.device("edge-r1-v6"))?.sessions).toBe(1);
      // The agent saw the router by its IPv6 address.
      const opened = agent?.find("opening Data stream").map((r) => r.device_ip);
      expect(opened).toContain(topo.rp.a.ipv6);
      expect(opened).toContain(topo.rp.a.ipv4);
    }, 30_000);

    test("withdrawing one IPv4 and one IPv6 prefix removes them at the collector, sessions kept", async () => {
      const before4 = await collector?.protocolState("from_r4");
      const before6 = await collector?.protocolState("from_r6");
      await router?.configure({ ...routerConfig, static4: V4_AFTER, static6: V6_AFTER });
      const remaining = sorted([...V4_AFTER, ...V6_AFTER]);
      expect(await waitRoutesFrom("from_r4", remaining)).toEqual(remaining);
      expect(await waitRoutesFrom("from_r6", remaining)).toEqual(remaining);
      expect(await collector?.routeCount("master4")).toBe(4); // 2 prefixes x 2 sessions
      expect(await collector?.routeCount("master6")).toBe(2);
      // Withdrawals, not a reset: both sessions are still the ones from before.
      for (const [name, before] of [
        ["from_r4", before4],
        ["from_r6", before6],
      ] as const) {
        const now = await collector?.protocolState(name);
        expect(now?.info).toStartWith("Established");
        expect(sinceApartMs(now?.since ?? "", before?.since ?? "")).toBeLessThan(SINCE_JITTER_MS);
      }
      expect(agent?.find(/^session (closed|ended)$/)).toEqual([]);
    }, 30_000);

    test("an unknown router is refused and deny-listed once; the known router is unaffected", async () => {
      const unknown = hostIn(topo.rp, UNKNOWN_HOST);
      const routerSince = (await router?.protocolState("to_agent4"))?.since;
      const routesBefore = await routesFrom("from_r4");
      expect(routesBefore.length).toBeGreaterThan(0);
      // Raw TCP attempts from the unknown address: the agent accepts, asks the gateway (first
      // time only), and closes without a byte; socat exits at EOF (bounded by -T and timeoutMs).
      const attempt = () =>
        run(
          [
            "socat",
            "-u",
            "-T",
            "5",
            `TCP:${topo.rp.b.ipv4}:179,bind=${unknown},connect-timeout=3`,
            "STDOUT",
          ],
          { netns: topo.router.name, timeoutMs: 8000, check: false },
        );
      const first = await attempt();
      expect(first.stdout).toBe("");
      const denied = await agent?.waitForRecord(
        "Deny-listed an INVALID / UNKNOWN device",
        10_000,
        (r) => r.device_ip === unknown,
      );
      expect(denied?.ttl_seconds).toBe(1200);
      expect(denied?.level).toBe("info");
      for (let i = 0; i < 3; i++) {
        const r = await attempt();
        expect(r.stdout).toBe("");
      }
      // Later attempts are refused at accept time, without asking the gateway again.
      await waitUntil(
        () =>
          (agent?.find("refused a deny-listed device").filter((r) => r.device_ip === unknown)
            .length ?? 0) >= 3,
        { timeoutMs: 5000, what: "agent: 3 refusals of the deny-listed device", diagnostics },
      );
      const logged = agent
        ?.find("Deny-listed an INVALID / UNKNOWN device")
        .filter((r) => r.device_ip === unknown);
      expect(logged?.length).toBe(1);
      const asked = gateway
        ?.find("blocked an unknown device")
        .filter((r) => r.device_ip === unknown);
      expect(asked?.length).toBe(1);
      expect(agent?.find("opening Data stream").map((r) => r.device_ip)).not.toContain(unknown);
      // The known router's session never noticed.
      const now = await router?.protocolState("to_agent4");
      expect(now?.info).toStartWith("Established");
      expect(sinceApartMs(now?.since ?? "", routerSince ?? "")).toBeLessThan(SINCE_JITTER_MS);
      expect(await routesFrom("from_r4")).toEqual(routesBefore);
      expect(agent?.find(/^session (closed|ended)$/)).toEqual([]);
      const known = agent
        ?.find("Deny-listed an INVALID / UNKNOWN device")
        .filter((r) => r.device_ip !== unknown);
      expect(known).toEqual([]);
    }, 30_000);

    test("SIGTERM stops agent and gateway cleanly (exit 0); both BGP ends see the session drop", async () => {
      const agentCode = await agent?.stop();
      const gatewayCode = await gateway?.stop();
      expect({ agent: agentCode, gateway: gatewayCode }).toEqual({ agent: 0, gateway: 0 });
      expect(agent?.find("agent stopped").length).toBe(1);
      expect(gateway?.find("gateway stopped").length).toBe(1);
      const down = async (bird: Bird | undefined, protocol: string) =>
        !(await bird?.protocolState(protocol))?.info.startsWith("Established");
      await waitUntil(async () => (await down(router, "to_agent4")) && down(collector, "from_r4"), {
        timeoutMs: 10_000,
        what: "router's to_agent4 and collector's from_r4 no longer Established",
        diagnostics,
      });
    }, 30_000);
  },
);
