/**
 * BGP-aware bridging with GoBGP as the router: gobgpd in namespace R peers with `bgproxy
 * agent` in P, relayed to `bgproxy gateway` (built-in collector) in P. The gateway is
 * killed with SIGKILL and started again on the same port: GoBGP's session never goes down
 * (its flop count and uptime go on), and the new collector holds exactly GoBGP's prefixes
 * again, sent through a route refresh.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type BgproxyProcess,
  type GatewayFileSpec,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Gobgp, gobgpMissing } from "../support/gobgp.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.250.0/24", "10.255.251.0/24", "10.255.252.0/24"];
const V6 = ["fd00:255:250::/48", "fd00:255:251::/48"];
const GRPC = "127.0.0.1:19445";
const problem = canRunNetns ? gobgpMissing() : "";
const note = skipNote || (problem ? ` [skipped: ${problem}]` : "");

interface GobgpNeighborJson {
  state?: { session_state?: number; flops?: number };
  timers?: { state?: { uptime?: { seconds?: number } | number } };
}

describe.skipIf(!canRunNetns || problem !== "")(
  `e2e bridging: GoBGP router, gateway killed and restarted${note}`,
  () => {
    let topo: RelayTopology;
    let router: Gobgp | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    let spec: GatewayFileSpec;

    const diagnostics = () =>
      [
        router ? `--- router GoBGP\n${router.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(30)}` : "",
        gateway ? `--- gateway\n${gateway.tail(20)}` : "",
      ].join("\n");

    const neighbor = async () =>
      JSON.parse(
        (await router?.cli("neighbor", topo.rp.b.ipv4, "-j")) ?? "{}",
      ) as GobgpNeighborJson;

    const fullTable = (g: GatewayProcess | undefined) =>
      waitUntil(
        async () => {
          const d = await g?.device("edge-gobgp");
          return d?.state === "established" && d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2
            ? d
            : undefined;
        },
        { timeoutMs: 30_000, what: "the collector holding GoBGP's 3 + 2 prefixes", diagnostics },
      );

    beforeAll(async () => {
      topo = await createRelayTopology({ collector: false });
      const { rp } = topo;
      spec = {
        collector: { asn: 64512, routerId: "192.0.2.1" },
        devices: [{ name: "edge-gobgp", id: 1001, ip: rp.a.ipv4, target: "collector" }],
      };
      gateway = await startGatewayProcess({ netns: topo.proxy, dir: topo.dir, spec, listen: GRPC });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`],
        target: GRPC,
      });
      router = await Gobgp.start(
        {
          routerId: rp.a.ipv4,
          asn: 65001,
          ipv6NextHop: rp.a.ipv6,
          neighbors: [{ address: rp.b.ipv4, asn: 64512, localAddress: rp.a.ipv4 }],
        },
        { netns: topo.router, label: "router" },
      );
      await router.addRoutes([...V4, ...V6]);
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await agent?.stop();
      await gateway?.stop();
      await destroyAllNetns();
    }, 30_000);

    test("kill -9 and restart: GoBGP's session never flops; the new collector gets the full table", async () => {
      await router?.waitEstablished(topo.rp.b.ipv4, 25_000, diagnostics);
      await fullTable(gateway);
      const before = await neighbor();
      expect(before.timers?.state?.uptime).toBeDefined();

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

      expect(await router?.neighborState(topo.rp.b.ipv4)).toBe("ESTABLISHED");
      const after = await neighbor();
      expect(after.state?.flops ?? 0).toBe(before.state?.flops ?? 0);
      expect(JSON.stringify(after.timers?.state?.uptime)).toBe(
        JSON.stringify(before.timers?.state?.uptime),
      );
    }, 90_000);
  },
);
