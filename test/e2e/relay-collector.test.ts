/**
 * The built-in collector path with real processes: a BIRD router in namespace R peers with
 * `bgproxy agent` in P, which relays over gRPC (P's loopback) to `bgproxy gateway` in P, whose
 * devices have `target = "collector"`: the gateway itself is the router's BGP peer (AS 64512,
 * the AS the router's neighbour config expects). What the collector learned is read from
 * `GET /api/devices`, from inside P. One IPv4-transport and one IPv6-transport session
 * (two devices: the router's two addresses).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type BgproxyProcess,
  type DeviceView,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird, type BirdConfig } from "../support/bird.ts";
import { destroyAllNetns } from "../support/netns.ts";
import {
  agentNeighbor,
  createRelayTopology,
  type RelayTopology,
} from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.210.0/24", "10.255.211.0/24", "10.255.212.0/24"];
const V6 = ["fd00:255:210::/48", "fd00:255:211::/48"];
const ROUTER_AS = 65001;
const COLLECTOR_AS = 64512;
const COLLECTOR_ID = "192.0.2.1";

describe.skipIf(!canRunNetns)(
  `e2e relay: BIRD router -> agent -> gateway's built-in collector${skipNote}`,
  () => {
    let topo: RelayTopology;
    let router: Bird | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    let routerConfig: BirdConfig;

    const diagnostics = () =>
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(25)}` : "",
        gateway ? `--- gateway\n${gateway.tail(25)}` : "",
      ].join("\n");

    /** Wait until /api/devices shows `name` passing `ok`; returns that view. */
    const waitDevice = async (name: string, what: string, ok: (d: DeviceView) => boolean) => {
      let last: DeviceView | undefined;
      return waitUntil(
        async () => {
          last = await gateway?.device(name);
          return last && ok(last) ? last : undefined;
        },
        {
          timeoutMs: 20_000,
          what: `/api/devices: ${name} ${what}`,
          diagnostics: () => `last seen: ${JSON.stringify(last)}\n${diagnostics()}`,
        },
      );
    };

    const waitRouterEstablished = async (protocol: string) => {
      const bird = router;
      if (!bird) throw new Error("router BIRD not started");
      await waitUntil(
        async () => (await bird.protocolState(protocol))?.info.startsWith("Established"),
        {
          timeoutMs: 20_000,
          what: `router: ${protocol} Established`,
          diagnostics: async () =>
            `${await bird.birdc("show", "protocols", "all", protocol).catch(String)}\n${diagnostics()}`,
        },
      );
    };

    beforeAll(async () => {
      topo = await createRelayTopology({ collector: false });
      const { rp } = topo;
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec: {
          collector: { asn: COLLECTOR_AS, routerId: COLLECTOR_ID },
          devices: [
            { name: "edge-r1", id: 1001, ip: rp.a.ipv4, target: "collector" },
            { name: "edge-r1-v6", id: 1002, ip: rp.a.ipv6, target: "collector" },
          ],
        },
      });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`, `[${rp.b.ipv6}]:179`],
        target: gateway.target,
        // Without bridging: a gateway stop must reach the router as a Cease (last test);
        // with it, the session would be carried over (test/e2e/bridge-bird.test.ts).
        extraArgs: ["--bridge-timeout", "0"],
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
      await destroyAllNetns();
    }, 30_000);

    test("/api/devices lists both devices, target collector, no MD5", async () => {
      const devices = await gateway?.devices();
      expect(devices?.map((d) => d.name).sort()).toEqual(["edge-r1", "edge-r1-v6"]);
      for (const d of devices ?? []) {
        expect(d.target).toBe("collector");
        expect(d.md5).toBe(false);
      }
    }, 10_000);

    test("the router's session with the built-in collector is Established (IPv4 transport)", async () => {
      await waitRouterEstablished("to_agent4");
      const device = await waitDevice("edge-r1", "established", (d) => d.state === "established");
      expect(device.sessions).toBe(1);
      expect(device.ip).toBe(topo.rp.a.ipv4);
      const r = gateway
        ?.find("BGP session established")
        .find((e) => e.device_ip === topo.rp.a.ipv4);
      expect(r?.peer_as).toBe(ROUTER_AS);
      expect(r?.peer_router_id).toBe(topo.rp.a.ipv4);
    }, 30_000);

    test("/api/devices counts the router's 3 IPv4 and 2 IPv6 prefixes", async () => {
      const device = await waitDevice(
        "edge-r1",
        "prefixes {ipv4: 3, ipv6: 2}",
        (d) => d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2,
      );
      expect(device.state).toBe("established");
      expect(device.updates).toBeGreaterThan(0);
    }, 30_000);

    test("the same over IPv6 transport (device fd00:255:r::1)", async () => {
      await waitRouterEstablished("to_agent6");
      const device = await waitDevice(
        "edge-r1-v6",
        "established with prefixes {ipv4: 3, ipv6: 2}",
        (d) => d.state === "established" && d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2,
      );
      expect(device.sessions).toBe(1);
      expect(device.ip).toBe(topo.rp.a.ipv6);
    }, 30_000);

    test("a withdrawal lowers the counts; the sessions stay up", async () => {
      const before = await gateway?.device("edge-r1");
      await router?.configure({
        ...routerConfig,
        static4: V4.slice(0, 2),
        static6: V6.slice(0, 1),
      });
      for (const name of ["edge-r1", "edge-r1-v6"]) {
        const device = await waitDevice(
          name,
          "prefixes {ipv4: 2, ipv6: 1}",
          (d) => d.prefixes.ipv4 === 2 && d.prefixes.ipv6 === 1,
        );
        expect(device.state).toBe("established");
        expect(device.sessions).toBe(1);
      }
      const after = await gateway?.device("edge-r1");
      expect(after?.updates).toBeGreaterThan(before?.updates ?? 0);
      expect(after?.sessions_total).toBe(before?.sessions_total ?? -1);
      expect((await router?.protocolState("to_agent4"))?.info).toStartWith("Established");
      expect((await router?.protocolState("to_agent6"))?.info).toStartWith("Established");
    }, 30_000);

    test("stopping the router's session takes the device back to idle and zero prefixes", async () => {
      await router?.disable("to_agent4");
      const device = await waitDevice(
        "edge-r1",
        "idle with no prefixes",
        (d) => d.state === "idle" && d.prefixes.ipv4 === 0 && d.prefixes.ipv6 === 0,
      );
      expect(device.sessions).toBe(0);
      // The other device is untouched.
      const other = await gateway?.device("edge-r1-v6");
      expect(other?.state).toBe("established");
      expect(other?.prefixes).toEqual({ ipv4: 2, ipv6: 1 });
    }, 30_000);

    test("a gateway SIGTERM tells the router why: Cease / Administrative Shutdown with a message", async () => {
      expect((await router?.protocolState("to_agent6"))?.info).toStartWith("Established");
      expect(await gateway?.stop()).toBe(0);
      // BIRD logs what it received; its protocol status is soon overwritten by redials.
      const line = await waitUntil(
        () =>
          router
            ?.logTail(200)
            .split("\n")
            .find((l) => /to_agent6: Received: Administrative shutdown/.test(l)),
        { timeoutMs: 10_000, what: "BIRD to log the Administrative Shutdown", diagnostics },
      );
      expect(line).toContain('"bgproxy gateway shutting down"');
    }, 30_000);
  },
);
