/**
 * Interoperability with ExaBGP (4.2) as the router in namespace R: one ExaBGP with three
 * neighbours, all through `bgproxy agent` and `bgproxy gateway`
 * (test/support/interop-stack.ts): the gateway's built-in collector, a BIRD collector the
 * gateway forwards to, and a neighbour configured with the wrong peer AS. ExaBGP announces 3
 * IPv4 routes (next hop self) and 2 IPv6 routes (next hop the router's IPv6 address) over each
 * IPv4 session, and withdraws one of each through its API (a FIFO read by its API process).
 * Its neighbour states come from the JSON events of that API; quirks in test/support/exabgp.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Exabgp, exabgpMissing } from "../support/exabgp.ts";
import {
  BIRD_PROTOCOL,
  COLLECTOR_AS,
  expectAnnouncedCounts,
  expectWithdrawnCounts,
  type InteropStack,
  ROUTER_AS,
  startInteropStack,
  WRONG_PEER_AS,
} from "../support/interop-stack.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.250.0/24", "10.255.251.0/24", "10.255.252.0/24"];
const V6 = ["fd00:255:250::/48", "fd00:255:251::/48"];
const WITHDRAWN = ["10.255.252.0/24", "fd00:255:251::/48"];
const ALL = [...V4, ...V6].sort();
const REMAINING = ALL.filter((p) => !WITHDRAWN.includes(p));

const problem = canRunNetns ? exabgpMissing() : "";
const note = skipNote || (problem ? ` [skipped: ${problem}]` : "");

describe.skipIf(!canRunNetns || problem !== "")(
  `e2e interop: ExaBGP router -> agent -> gateway (collector, forward to BIRD)${note}`,
  () => {
    let stack: InteropStack;
    let router: Exabgp | undefined;
    const routerTail = () =>
      router ? `--- router ExaBGP\n${router.logTail(15)}\n${router.eventsTail()}` : "";

    beforeAll(async () => {
      stack = await startInteropStack();
      const { collector, forward, wrongAs } = stack.sessions;
      router = await Exabgp.start(
        {
          routerId: collector.router,
          asn: ROUTER_AS,
          neighbors: [
            { address: collector.agent, asn: COLLECTOR_AS, localAddress: collector.router },
            { address: forward.agent, asn: COLLECTOR_AS, localAddress: forward.router },
            { address: wrongAs.agent, asn: WRONG_PEER_AS, localAddress: wrongAs.router },
          ],
          routes: [
            ...V4.map((prefix) => ({ prefix, nextHop: "self" })),
            ...V6.map((prefix) => ({ prefix, nextHop: stack.routerIpv6 })),
          ],
        },
        { netns: stack.topo.router, label: "router" },
      );
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await stack?.stop();
    }, 30_000);

    test("collector path: ExaBGP reports the neighbour up and /api/devices shows established", async () => {
      const { collector } = stack.sessions;
      await router?.waitEstablished(collector.agent, 20_000, () => stack.diagnostics());
      const device = await stack.waitDevice(
        collector.device,
        "established",
        (d) => d.state === "established",
        routerTail,
      );
      expect(device.sessions).toBe(1);
      const up = stack.gateway
        .find("BGP session established")
        .find((r) => r.device_ip === collector.router);
      expect(up?.peer_as).toBe(ROUTER_AS);
      expect(up?.peer_router_id).toBe(collector.router);
      // The same TCP session, as ExaBGP saw it: connected, then up, no drop in between.
      const seen = router?.stateEvents().filter((e) => e.peer === collector.agent);
      expect(seen?.map((e) => e.state)).toEqual(["connected", "up"]);
      expect(seen?.[0]?.local).toBe(collector.router);
    }, 30_000);

    test("collector path: /api/devices counts exactly ExaBGP's 3 IPv4 and 2 IPv6 routes", async () => {
      await expectAnnouncedCounts(stack, routerTail);
    }, 30_000);

    test("forward path: ExaBGP and BIRD are up; BIRD holds ExaBGP's routes unchanged", async () => {
      const { forward } = stack.sessions;
      await router?.waitEstablished(forward.agent, 20_000, () => stack.diagnostics());
      await stack.collector.waitEstablished(BIRD_PROTOCOL, 10_000);
      expect(await stack.waitCollectorRoutes(ALL, routerTail)).toEqual(ALL);
      const detail = await stack.collector.birdc("show", "route", "all", "protocol", BIRD_PROTOCOL);
      const asPaths = [...detail.matchAll(/BGP\.as_path: (.*)/g)].map((m) => m[1]);
      expect(asPaths).toEqual(Array(5).fill(String(ROUTER_AS)));
      expect(detail).toContain(`BGP.next_hop: ${forward.router}`);
      expect(detail).toContain(`BGP.next_hop: ${stack.routerIpv6}`);
      const device = await stack.waitDevice(
        forward.device,
        "established with prefixes {ipv4: 3, ipv6: 2}",
        (d) => d.state === "established" && d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2,
        routerTail,
      );
      expect(device.sessions).toBe(1);
    }, 30_000);

    test("wrong peer AS on ExaBGP: it answers the collector's OPEN with NOTIFICATION 2/2, never up", async () => {
      const { wrongAs } = stack.sessions;
      const refused = await stack.waitGatewayRecord(
        "peer sent NOTIFICATION",
        (r) => r.device_ip === wrongAs.router,
        20_000,
        routerTail,
      );
      expect(refused.notification).toBe("OPEN Message Error/Bad Peer AS (2/2)");
      // ExaBGP's own account, from its API.
      const down = await waitUntil(
        () => router?.stateEvents().find((e) => e.peer === wrongAs.agent && e.state === "down"),
        {
          timeoutMs: 5000,
          what: "ExaBGP: a down event for the wrong-AS neighbour",
          diagnostics: routerTail,
        },
      );
      expect(down.reason).toContain("notification sent (2,2)");
      expect(down.reason).toContain(
        `ASN in OPEN (${COLLECTOR_AS}) did not match ASN expected (${WRONG_PEER_AS})`,
      );
      expect(
        router?.stateEvents().filter((e) => e.peer === wrongAs.agent && e.state === "up"),
      ).toEqual([]);
      const device = await stack.gateway.device(wrongAs.device);
      expect(device.state).not.toBe("established");
      expect(device.prefixes).toEqual({ ipv4: 0, ipv6: 0 });
      expect(device.sessions_total).toBeGreaterThan(0);
      expect(
        stack.gateway.find("BGP session established").filter((r) => r.device_ip === wrongAs.router),
      ).toEqual([]);
    }, 30_000);

    test("withdrawals through ExaBGP's API lower the counts and reach BIRD; sessions kept", async () => {
      const { collector, forward } = stack.sessions;
      await expectWithdrawnCounts(stack, () => router?.withdraw(WITHDRAWN), REMAINING, routerTail);
      expect(router?.neighborState(collector.agent)).toBe("up");
      expect(router?.neighborState(forward.agent)).toBe("up");
    }, 30_000);
  },
);
