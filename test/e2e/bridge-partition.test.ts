/**
 * Partitions between the agent and the gateway, with real processes: the gateway (built-in
 * collector) runs in namespace C, the agent in P, and the P–C link is taken down inside P
 * (`ip link set down`) for 5 s and then for 60 s. A BIRD router in R peers with the agent.
 *
 * - 5 s: TCP carries the session over the gap; nothing is bridged or lost.
 * - 60 s: still within the agent's transport tolerance (the longest common hold time);
 *   if the agent gave the connection up instead, the session would be bridged.
 * In both, the router's session never leaves Established and the collector ends up with
 * exactly the router's prefixes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Bird, sinceMs } from "../support/bird.ts";
import {
  BRIDGE_LOG,
  type BridgeStack,
  collectorHolds,
  collectorSpec,
  routerEstablished,
  startBridgeStack,
  startRouterBird,
} from "../support/bridge-stack.ts";
import { run } from "../support/process.ts";
import { canRunNetns, skipNote } from "../support/root.ts";

const V4 = ["10.255.236.0/24", "10.255.237.0/24"];
const V6 = ["fd00:255:236::/48"];

describe.skipIf(!canRunNetns)(
  `e2e bridging: partitions between agent and gateway${skipNote}`,
  () => {
    let stack: BridgeStack;
    let router: Bird | undefined;
    const diagnostics = () =>
      stack.diagnostics(router ? `--- router BIRD\n${router.logTail(20)}` : "");

    const established = () => routerEstablished(router, diagnostics);

    const fullTable = (timeoutMs = 30_000) =>
      collectorHolds(stack.gateway, V4.length, V6.length, { timeoutMs, diagnostics });

    /** The P end of the P–C link down for `ms`, then up again. */
    const partition = async (ms: number) => {
      const ifname = stack.topo.pc?.a.ifname ?? "";
      const ns = stack.topo.proxy.name;
      await run(["ip", "link", "set", ifname, "down"], { netns: ns });
      await new Promise((resolve) => setTimeout(resolve, ms));
      await run(["ip", "link", "set", ifname, "up"], { netns: ns });
    };

    beforeAll(async () => {
      stack = await startBridgeStack({
        collector: true,
        gatewayInC: true,
        grpc: ({ pc }) => `${pc?.b.ipv4}:19448`,
        spec: collectorSpec(),
        listen: ({ rp }) => [`${rp.b.ipv4}:179`],
      });
      router = await startRouterBird(stack, V4, V6);
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await stack?.stop();
    }, 30_000);

    test("5 s: the session rides it out; nothing is bridged", async () => {
      await established();
      await fullTable();
      const before = await established();
      await partition(5_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(stack.agent.find(BRIDGE_LOG.lost)).toHaveLength(0);
      const device = await fullTable();
      expect(device.sessions_total).toBe(1);
      const after = await established();
      expect(Math.abs(sinceMs(after.since) - sinceMs(before.since))).toBeLessThan(50);
    }, 60_000);

    test("60 s: the router's session stays up; the collector holds the table afterwards", async () => {
      const before = await established();
      await partition(60_000);
      // The agent's transport tolerates a silence as long as the longest common hold time
      // (240 s), so TCP carries this gap too; had the agent given the connection up, the
      // session would have been bridged. Either way the router must not notice.
      await fullTable(60_000);
      const after = await established();
      expect(Math.abs(sinceMs(after.since) - sinceMs(before.since))).toBeLessThan(50);
      const lost = stack.agent.find(BRIDGE_LOG.lost).length;
      const tookOver = stack.agent.find(BRIDGE_LOG.tookOver).length;
      expect(tookOver).toBe(lost);
    }, 180_000);
  },
);
