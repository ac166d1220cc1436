/**
 * BGP-aware bridging with real processes: a BIRD router in namespace R peers with
 * `bgproxy agent` in P, relayed to `bgproxy gateway` (built-in collector) in P. The gateway
 * is killed with SIGKILL and started again on the same port: the router's session never
 * leaves Established (BIRD's "since" is unchanged, no NOTIFICATION), and the new gateway's
 * collector ends up with exactly the router's prefixes, sent again through a route refresh.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  type BgproxyProcess,
  type GatewayFileSpec,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird, type BirdConfig, sinceMs } from "../support/bird.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.230.0/24", "10.255.231.0/24", "10.255.232.0/24"];
const V6 = ["fd00:255:230::/48", "fd00:255:231::/48"];
const GRPC = "127.0.0.1:19443";

describe.skipIf(!canRunNetns)(
  `e2e bridging: the gateway killed or stopped, and restarted${skipNote}`,
  () => {
    let topo: RelayTopology;
    let router: Bird | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    let spec: GatewayFileSpec;

    const diagnostics = () =>
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(30)}` : "",
        gateway ? `--- gateway\n${gateway.tail(20)}` : "",
      ].join("\n");

    const established = async () => {
      const bird = router;
      if (!bird) throw new Error("router BIRD not started");
      return waitUntil(
        async () => {
          const s = await bird.protocolState("to_agent");
          return s?.info.startsWith("Established") ? s : undefined;
        },
        { timeoutMs: 20_000, what: "router: to_agent Established", diagnostics },
      );
    };

    const fullTable = (g: GatewayProcess | undefined) =>
      waitUntil(
        async () => {
          const d = await g?.device("edge-r1");
          return d?.state === "established" &&
            d.prefixes.ipv4 === V4.length &&
            d.prefixes.ipv6 === V6.length
            ? d
            : undefined;
        },
        {
          timeoutMs: 30_000,
          what: "the collector holding the router's 3 + 2 prefixes",
          diagnostics,
        },
      );

    beforeAll(async () => {
      topo = await createRelayTopology({ collector: false });
      const { rp } = topo;
      spec = {
        collector: { asn: 64512, routerId: "192.0.2.1" },
        devices: [{ name: "edge-r1", id: 1001, ip: rp.a.ipv4, target: "collector" }],
      };
      gateway = await startGatewayProcess({ netns: topo.proxy, dir: topo.dir, spec, listen: GRPC });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`],
        target: GRPC,
      });
      const config: BirdConfig = {
        routerId: rp.a.ipv4,
        asn: 65001,
        neighbors: [
          {
            name: "to_agent",
            address: rp.b.ipv4,
            asn: 64512,
            localAddress: rp.a.ipv4,
            import: "none",
          },
        ],
        static4: V4,
        static6: V6,
      };
      router = await Bird.start(config, { netns: topo.router, label: "router" });
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await agent?.stop();
      await gateway?.stop();
      await destroyAllNetns();
    }, 30_000);

    test("kill -9 and restart: the router's session never leaves Established; the new collector gets the full table", async () => {
      await established();
      await fullTable(gateway);
      const before = await established();

      await gateway?.process.stop({ signal: "SIGKILL" });
      await agent?.waitForRecord("far end lost: keeping the router's BGP session up", 10_000);
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec,
        listen: GRPC,
        label: "gateway-2",
      });
      await agent?.waitForRecord("a new far end took over the router's session", 30_000);
      const device = await fullTable(gateway);
      expect(device.sessions_total).toBe(1);

      const after = await established();
      expect(Math.abs(sinceMs(after.since) - sinceMs(before.since))).toBeLessThan(50);
      // No NOTIFICATION either way, no error on the protocol since it came up.
      const details = (await router?.birdc("show", "protocols", "all", "to_agent")) ?? "";
      expect(details).toContain("Established");
      expect(details).not.toContain("Last error");
      const log = router ? readFileSync(router.logPath, "utf8") : "";
      expect(log).not.toMatch(/to_agent: (Received|Error)/);
    }, 90_000);

    test("SIGTERM (a drain: RESTART) and restart: the session still never leaves Established", async () => {
      const before = await established();
      const takeovers = agent?.find("a new far end took over the router's session").length ?? 0;
      const stopped = gateway;
      await stopped?.stop();
      // SIGTERM drains: RESTART on the Data stream, which the agent answers before bridging.
      expect(stopped?.find("draining: RESTART sent on every Data stream")).toHaveLength(1);
      expect(agent?.find("session ended").some((r) => r.reason === "restart")).toBe(true);
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec,
        listen: GRPC,
        label: "gateway-3",
      });
      await waitUntil(
        () => (agent?.find("a new far end took over the router's session").length ?? 0) > takeovers,
        { timeoutMs: 30_000, what: "a second take-over", diagnostics },
      );
      await fullTable(gateway);
      const after = await established();
      expect(Math.abs(sinceMs(after.since) - sinceMs(before.since))).toBeLessThan(50);
    }, 90_000);
  },
);
