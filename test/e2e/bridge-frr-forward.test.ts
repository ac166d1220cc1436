/**
 * BGP-aware bridging with a router that is not BIRD and a far end that is a real daemon:
 * FRR's bgpd in namespace R peers with `bgproxy agent` in P; the gateway in P forwards the
 * session to a BIRD collector in C (test/support/bridge-stack.ts). The gateway is killed
 * with SIGKILL (BIRD sees its connection close) and, after FRR changed its prefixes, started
 * again on the same address: FRR's session is never dropped (its established/dropped
 * connection counters do not move), and BIRD, peering again through the new gateway, ends
 * up with exactly FRR's new prefixes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Bird } from "../support/bird.ts";
import {
  BRIDGE_LOG,
  type BridgeStack,
  birdHolds,
  forwardSpec,
  startBridgeStack,
  startForwardedBird,
} from "../support/bridge-stack.ts";
import { Frr, frrMissing } from "../support/frr.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.240.0/24", "10.255.241.0/24", "10.255.242.0/24"];
const V6 = ["fd00:255:240::/48", "fd00:255:241::/48"];
const frrProblem = canRunNetns ? frrMissing() : "";
const note = skipNote || (frrProblem ? ` [skipped: ${frrProblem}]` : "");

interface FrrNeighborJson {
  bgpState?: string;
  connectionsEstablished?: number;
  connectionsDropped?: number;
}

describe.skipIf(!canRunNetns || frrProblem !== "")(
  `e2e bridging: FRR router, BIRD far end, gateway killed and restarted${note}`,
  () => {
    let stack: BridgeStack;
    let collector: Bird | undefined;
    let router: Frr | undefined;
    const diagnostics = () =>
      stack.diagnostics(
        [
          router ? `--- router FRR\n${router.logTail(20)}` : "",
          collector ? `--- collector BIRD\n${collector.logTail(20)}` : "",
        ].join("\n"),
      );

    /** FRR's view of the neighbour: its state, how often it came up and went down. */
    const frrNeighbor = async () => {
      const address = stack.topo.rp.b.ipv4;
      const out = JSON.parse(
        (await router?.vtysh(`show bgp neighbors ${address} json`)) ?? "{}",
      ) as Record<string, FrrNeighborJson>;
      return out[address];
    };

    const collectorHolds = (want: readonly string[]) =>
      birdHolds(collector, "from_frr", want, { what: "collector: routes from FRR", diagnostics });

    beforeAll(async () => {
      stack = await startBridgeStack({
        collector: true,
        grpc: "127.0.0.1:19444",
        spec: forwardSpec("edge-frr", 2001),
        listen: ({ rp }) => [`${rp.b.ipv4}:179`],
      });
      const { rp } = stack.topo;
      collector = await startForwardedBird(stack, "from_frr", "collector");
      router = await Frr.start(
        {
          routerId: rp.a.ipv4,
          asn: 65001,
          neighbors: [
            { address: rp.b.ipv4, asn: 64512, updateSource: rp.a.ipv4, ipv6NextHop: rp.a.ipv6 },
          ],
          static4: V4,
          static6: V6,
        },
        { netns: stack.topo.router, label: "router" },
      );
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await collector?.stop();
      await stack?.stop();
    }, 30_000);

    test("kill -9 and restart: FRR's session is never dropped; BIRD holds exactly FRR's prefixes, changed while bridged", async () => {
      await router?.waitEstablished(stack.topo.rp.b.ipv4, 20_000, diagnostics);
      await collectorHolds([...V4, ...V6]);
      const before = await frrNeighbor();
      expect(before?.connectionsEstablished).toBe(1);

      await stack.stopGateway("kill");
      await stack.agent.waitForRecord(BRIDGE_LOG.lost, 10_000);
      // BIRD saw its session go (FRR advertised graceful restart, so BIRD keeps the routes
      // as stale meanwhile, RFC 4724).
      await waitUntil(
        async () => !(await collector?.protocolState("from_frr"))?.info.startsWith("Established"),
        {
          timeoutMs: 10_000,
          what: "BIRD's session from the killed gateway to go down",
          diagnostics,
        },
      );
      // While bridged, FRR withdraws one prefix and announces another: the bridge drops
      // those UPDATEs; the End-of-RIB and the refresh must leave BIRD with the new set.
      const v4After = [...V4.slice(1), "10.255.243.0/24"];
      await router?.setStatics(v4After, V6);
      await waitUntil(
        async () => (await router?.advertised(stack.topo.rp.b.ipv4))?.includes("10.255.243.0/24"),
        { timeoutMs: 10_000, what: "FRR to advertise its new prefix", diagnostics },
      );
      await stack.startGatewayAgain();
      await stack.agent.waitForRecord(BRIDGE_LOG.tookOver, 30_000);
      await collectorHolds([...v4After, ...V6]);

      const after = await frrNeighbor();
      expect(after?.bgpState).toBe("Established");
      expect(after?.connectionsEstablished).toBe(before?.connectionsEstablished);
      expect(after?.connectionsDropped).toBe(before?.connectionsDropped);
    }, 90_000);
  },
);
