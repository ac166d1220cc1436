/**
 * BGP-aware bridging with GoBGP as the router: gobgpd in namespace R peers with `bgproxy
 * agent` in P, relayed to `bgproxy gateway` (built-in collector) in P
 * (test/support/bridge-stack.ts). The gateway is killed with SIGKILL and started again on
 * the same address: GoBGP's session never goes down (its flop count and uptime go on), and
 * the new collector holds exactly GoBGP's prefixes again, sent through a route refresh.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  BRIDGE_LOG,
  type BridgeStack,
  collectorHolds,
  collectorSpec,
  startBridgeStack,
} from "../support/bridge-stack.ts";
import { Gobgp, gobgpMissing } from "../support/gobgp.ts";
import { canRunNetns, skipNote } from "../support/root.ts";

const V4 = ["10.255.250.0/24", "10.255.251.0/24", "10.255.252.0/24"];
const V6 = ["fd00:255:250::/48", "fd00:255:251::/48"];
const problem = canRunNetns ? gobgpMissing() : "";
const note = skipNote || (problem ? ` [skipped: ${problem}]` : "");

interface GobgpNeighborJson {
  state?: { session_state?: number; flops?: number };
  timers?: { state?: { uptime?: { seconds?: number } | number } };
}

describe.skipIf(!canRunNetns || problem !== "")(
  `e2e bridging: GoBGP router, gateway killed and restarted${note}`,
  () => {
    let stack: BridgeStack;
    let router: Gobgp | undefined;
    const diagnostics = () =>
      stack.diagnostics(router ? `--- router GoBGP\n${router.logTail(20)}` : "");

    const neighbor = async () =>
      JSON.parse(
        (await router?.cli("neighbor", stack.topo.rp.b.ipv4, "-j")) ?? "{}",
      ) as GobgpNeighborJson;

    const fullTable = () =>
      collectorHolds(stack.gateway, V4.length, V6.length, { device: "edge-gobgp", diagnostics });

    beforeAll(async () => {
      stack = await startBridgeStack({
        collector: false,
        grpc: "127.0.0.1:19445",
        spec: collectorSpec("edge-gobgp"),
        listen: ({ rp }) => [`${rp.b.ipv4}:179`],
      });
      const { rp } = stack.topo;
      router = await Gobgp.start(
        {
          routerId: rp.a.ipv4,
          asn: 65001,
          ipv6NextHop: rp.a.ipv6,
          neighbors: [{ address: rp.b.ipv4, asn: 64512, localAddress: rp.a.ipv4 }],
        },
        { netns: stack.topo.router, label: "router" },
      );
      await router.addRoutes([...V4, ...V6]);
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await stack?.stop();
    }, 30_000);

    test("kill -9 and restart: GoBGP's session never flops; the new collector gets the full table", async () => {
      await router?.waitEstablished(stack.topo.rp.b.ipv4, 25_000, diagnostics);
      await fullTable();
      const before = await neighbor();
      expect(before.timers?.state?.uptime).toBeDefined();

      await stack.restartGateway("kill");
      await stack.agent.waitForRecord(BRIDGE_LOG.tookOver, 30_000);
      const device = await fullTable();
      expect(device.sessions_total).toBe(1);

      expect(await router?.neighborState(stack.topo.rp.b.ipv4)).toBe("ESTABLISHED");
      const after = await neighbor();
      expect(after.state?.flops ?? 0).toBe(before.state?.flops ?? 0);
      expect(JSON.stringify(after.timers?.state?.uptime)).toBe(
        JSON.stringify(before.timers?.state?.uptime),
      );
    }, 90_000);
  },
);
