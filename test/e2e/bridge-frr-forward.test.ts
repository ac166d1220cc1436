/**
 * BGP-aware bridging with a router that is not BIRD and a far end that is a real daemon:
 * FRR's bgpd in namespace R peers with `bgproxy agent` in P; the gateway in P forwards the
 * session to a BIRD collector in C. The gateway is killed with SIGKILL (BIRD sees its
 * connection close) and started again on the same port: FRR's session
 * is never dropped (its established/dropped connection counters do not move), and BIRD,
 * peering again through the new gateway, ends up with exactly FRR's prefixes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type BgproxyProcess,
  type GatewayFileSpec,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "../support/bgproxy-process.ts";
import { Bird, parseRoutePrefixes } from "../support/bird.ts";
import { Frr, frrMissing } from "../support/frr.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.240.0/24", "10.255.241.0/24", "10.255.242.0/24"];
const V6 = ["fd00:255:240::/48", "fd00:255:241::/48"];
const GRPC = "127.0.0.1:19444";
const frrProblem = canRunNetns ? frrMissing() : "";
const note = skipNote || (frrProblem ? ` [skipped: ${frrProblem}]` : "");

describe.skipIf(!canRunNetns || frrProblem !== "")(
  `e2e bridging: FRR router, BIRD far end, gateway killed and restarted${note}`,
  () => {
    let topo: RelayTopology;
    let collector: Bird | undefined;
    let router: Frr | undefined;
    let gateway: GatewayProcess | undefined;
    let agent: BgproxyProcess | undefined;
    let spec: GatewayFileSpec;

    const diagnostics = () =>
      [
        router ? `--- router FRR\n${router.logTail(20)}` : "",
        collector ? `--- collector BIRD\n${collector.logTail(20)}` : "",
        agent ? `--- agent\n${agent.tail(30)}` : "",
        gateway ? `--- gateway\n${gateway.tail(20)}` : "",
      ].join("\n");

    /** FRR's counters of the neighbour: its session's state and how often it came up and went down. */
    const frrNeighbor = async () => {
      const address = topo.rp.b.ipv4;
      const out = JSON.parse(
        (await router?.vtysh(`show bgp neighbors ${address} json`)) ?? "{}",
      ) as Record<
        string,
        { bgpState?: string; connectionsEstablished?: number; connectionsDropped?: number }
      >;
      return out[address];
    };

    const collectorHolds = (want: readonly string[]) => {
      const sorted = [...want].sort();
      let last: string[] = [];
      return waitUntil(
        async () => {
          last = parseRoutePrefixes(
            (await collector?.birdc("show", "route", "protocol", "from_frr")) ?? "",
          );
          return JSON.stringify(last) === JSON.stringify(sorted) ? last : undefined;
        },
        {
          timeoutMs: 30_000,
          what: `collector: routes from FRR = ${JSON.stringify(sorted)}`,
          diagnostics: () => `last seen: ${JSON.stringify(last)}\n${diagnostics()}`,
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
          asn: 64512,
          neighbors: [
            {
              name: "from_frr",
              address: pc.a.ipv4,
              asn: 65001,
              localAddress: pc.b.ipv4,
              passive: true,
              multihop: true,
              export: "none",
            },
          ],
        },
        { netns: topo.collector, label: "collector" },
      );
      spec = {
        collector: { asn: 64512, routerId: "192.0.2.1" },
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
      };
      gateway = await startGatewayProcess({ netns: topo.proxy, dir: topo.dir, spec, listen: GRPC });
      agent = await startAgentProcess({
        netns: topo.proxy,
        listen: [`${rp.b.ipv4}:179`],
        target: GRPC,
      });
      router = await Frr.start(
        {
          routerId: rp.a.ipv4,
          asn: 65001,
          neighbors: [
            {
              address: rp.b.ipv4,
              asn: 64512,
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

    test("kill -9 and restart: FRR's session is never dropped; BIRD holds exactly FRR's prefixes, changed while bridged", async () => {
      await router?.waitEstablished(topo.rp.b.ipv4, 20_000, diagnostics);
      await collectorHolds([...V4, ...V6]);
      const before = await frrNeighbor();
      expect(before?.connectionsEstablished).toBe(1);

      await gateway?.process.stop({ signal: "SIGKILL" });
      await agent?.waitForRecord("far end lost: keeping the router's BGP session up", 10_000);
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
        async () => (await router?.advertised(topo.rp.b.ipv4))?.includes("10.255.243.0/24"),
        {
          timeoutMs: 10_000,
          what: "FRR to advertise its new prefix",
          diagnostics,
        },
      );
      gateway = await startGatewayProcess({
        netns: topo.proxy,
        dir: topo.dir,
        spec,
        listen: GRPC,
        label: "gateway-2",
      });
      await agent?.waitForRecord("a new far end took over the router's session", 30_000);
      await collectorHolds([...v4After, ...V6]);

      const after = await frrNeighbor();
      expect(after?.bgpState).toBe("Established");
      expect(after?.connectionsEstablished).toBe(before?.connectionsEstablished);
      expect(after?.connectionsDropped).toBe(before?.connectionsDropped);
    }, 90_000);
  },
);
