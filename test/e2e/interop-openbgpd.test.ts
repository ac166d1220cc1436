/**
 * Interoperability with OpenBGPD (bgpd 7.7, portable) as the router in namespace R: one bgpd
 * with three neighbours, all through `bgproxy agent` and `bgproxy gateway`
 * (test/support/interop-stack.ts): the gateway's built-in collector, a BIRD collector the
 * gateway forwards to, and a neighbour configured with the wrong remote AS. bgpd announces 3
 * IPv4 and 2 IPv6 `network`s over each IPv4 session (IPv6 with an explicit next hop: see
 * test/support/openbgpd.ts for why) and withdraws one of each with `bgpctl network delete`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  BIRD_PROTOCOL,
  COLLECTOR_AS,
  COLLECTOR_ROUTER_ID,
  expectAnnouncedCounts,
  expectWithdrawnCounts,
  type InteropStack,
  ROUTER_AS,
  startInteropStack,
  WRONG_PEER_AS,
} from "../support/interop-stack.ts";
import { Openbgpd, openbgpdMissing } from "../support/openbgpd.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.240.0/24", "10.255.241.0/24", "10.255.242.0/24"];
const V6 = ["fd00:255:240::/48", "fd00:255:241::/48"];
const WITHDRAWN = ["10.255.242.0/24", "fd00:255:241::/48"];
const ALL = [...V4, ...V6].sort();
const REMAINING = ALL.filter((p) => !WITHDRAWN.includes(p));

const problem = canRunNetns ? openbgpdMissing() : "";
const note = skipNote || (problem ? ` [skipped: ${problem}]` : "");

describe.skipIf(!canRunNetns || problem !== "")(
  `e2e interop: OpenBGPD router -> agent -> gateway (collector, forward to BIRD)${note}`,
  () => {
    let stack: InteropStack;
    let router: Openbgpd | undefined;
    const routerTail = () => (router ? `--- router OpenBGPD\n${router.logTail(25)}` : "");

    beforeAll(async () => {
      stack = await startInteropStack();
      const { collector, forward, wrongAs } = stack.sessions;
      const ipv6NextHop = stack.routerIpv6;
      router = await Openbgpd.start(
        {
          routerId: collector.router,
          asn: ROUTER_AS,
          networks: [...V4, ...V6],
          neighbors: [
            {
              address: collector.agent,
              asn: COLLECTOR_AS,
              localAddress: collector.router,
              ipv6NextHop,
            },
            {
              address: forward.agent,
              asn: COLLECTOR_AS,
              localAddress: forward.router,
              ipv6NextHop,
            },
            { address: wrongAs.agent, asn: WRONG_PEER_AS, localAddress: wrongAs.router },
          ],
        },
        { netns: stack.topo.router, label: "router" },
      );
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await stack?.stop();
    }, 30_000);

    test("collector path: `bgpctl show neighbor` says Established and so does /api/devices", async () => {
      const { collector } = stack.sessions;
      await router?.waitEstablished(collector.agent, 20_000, () => stack.diagnostics());
      const view = await router?.neighbor(collector.agent);
      expect(view?.remoteAs).toBe(COLLECTOR_AS);
      expect(view?.remoteRouterId).toBe(COLLECTOR_ROUTER_ID);
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
    }, 30_000);

    test("collector path: /api/devices counts exactly bgpd's 3 IPv4 and 2 IPv6 prefixes", async () => {
      const { collector } = stack.sessions;
      await expectAnnouncedCounts(stack, routerTail);
      expect(await router?.advertised(collector.agent)).toEqual(ALL);
    }, 30_000);

    test("forward path: bgpd and BIRD are Established; BIRD holds bgpd's prefixes unchanged", async () => {
      const { forward } = stack.sessions;
      await router?.waitEstablished(forward.agent, 20_000, () => stack.diagnostics());
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

    test("wrong remote AS on bgpd: it answers the collector's OPEN with NOTIFICATION 2/2, never Established", async () => {
      const { wrongAs } = stack.sessions;
      const refused = await stack.waitGatewayRecord(
        "peer sent NOTIFICATION",
        (r) => r.device_ip === wrongAs.router,
        20_000,
        routerTail,
      );
      expect(refused.notification).toBe("OPEN Message Error/Bad Peer AS (2/2)");
      // bgpd's own account of it.
      const view = await waitUntil(
        async () => {
          const v = await router?.neighbor(wrongAs.agent);
          return v?.lastErrorSent ? v : undefined;
        },
        {
          timeoutMs: 5000,
          what: "bgpctl: last error sent to the wrong-AS neighbour",
          diagnostics: routerTail,
        },
      );
      expect(view.lastErrorSent).toBe("error in OPEN message, AS unacceptable"); // 2/2
      expect(view.state).not.toBe("Established");
      const device = await stack.gateway.device(wrongAs.device);
      expect(device.state).not.toBe("established");
      expect(device.prefixes).toEqual({ ipv4: 0, ipv6: 0 });
      expect(device.sessions_total).toBeGreaterThan(0);
      expect(
        stack.gateway.find("BGP session established").filter((r) => r.device_ip === wrongAs.router),
      ).toEqual([]);
    }, 30_000);

    test("withdrawals (`bgpctl network delete`) lower the counts and reach BIRD; sessions kept", async () => {
      const { collector, forward } = stack.sessions;
      await expectWithdrawnCounts(
        stack,
        () => router?.deleteNetworks(WITHDRAWN),
        REMAINING,
        routerTail,
      );
      expect((await router?.neighbor(collector.agent))?.state).toBe("Established");
      expect((await router?.neighbor(forward.agent))?.state).toBe("Established");
    }, 30_000);
  },
);
