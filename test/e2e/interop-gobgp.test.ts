/**
 * Interoperability with GoBGP (gobgpd 3.10) as the router in namespace R: one gobgpd with three
 * neighbours, all through `bgproxy agent` and `bgproxy gateway` (test/support/interop-stack.ts):
 * the gateway's built-in collector, a BIRD collector the gateway forwards to, and a neighbour
 * configured with the wrong peer AS. GoBGP announces 3 IPv4 and 2 IPv6 prefixes over each IPv4
 * session (IPv6 with the router's IPv6 address as next hop, set by an export policy) and
 * withdraws one of each with `gobgp global rib del`; the last test drops the policy to show
 * what GoBGP sends by default (an IPv4-mapped IPv6 next hop) and who accepts it. GoBGP's
 * quirks are in test/support/gobgp.ts; its first connection comes 5-10 s after start, hence
 * the longer first wait.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Gobgp, gobgpMissing } from "../support/gobgp.ts";
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
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.230.0/24", "10.255.231.0/24", "10.255.232.0/24"];
const V6 = ["fd00:255:230::/48", "fd00:255:231::/48"];
const WITHDRAWN = ["10.255.232.0/24", "fd00:255:231::/48"];
const ALL = [...V4, ...V6].sort();
const REMAINING = ALL.filter((p) => !WITHDRAWN.includes(p));
/** GoBGP dials 5-10 s after start. */
const FIRST_CONNECT_MS = 25_000;

const problem = canRunNetns ? gobgpMissing() : "";
const note = skipNote || (problem ? ` [skipped: ${problem}]` : "");

describe.skipIf(!canRunNetns || problem !== "")(
  `e2e interop: GoBGP router -> agent -> gateway (collector, forward to BIRD)${note}`,
  () => {
    let stack: InteropStack;
    let router: Gobgp | undefined;
    const routerTail = () => (router ? `--- router GoBGP\n${router.logTail(25)}` : "");

    beforeAll(async () => {
      stack = await startInteropStack();
      const { collector, forward, wrongAs } = stack.sessions;
      router = await Gobgp.start(
        {
          routerId: collector.router,
          asn: ROUTER_AS,
          ipv6NextHop: stack.routerIpv6,
          neighbors: [
            { address: collector.agent, asn: COLLECTOR_AS, localAddress: collector.router },
            { address: forward.agent, asn: COLLECTOR_AS, localAddress: forward.router },
            { address: wrongAs.agent, asn: WRONG_PEER_AS, localAddress: wrongAs.router },
          ],
        },
        { netns: stack.topo.router, label: "router" },
      );
      await router.addRoutes([...V4, ...V6]);
    }, 60_000);

    afterAll(async () => {
      await router?.stop();
      await stack?.stop();
    }, 30_000);

    test("collector path: `gobgp neighbor` shows ESTABLISHED and so does /api/devices", async () => {
      const { collector } = stack.sessions;
      await router?.waitEstablished(collector.agent, FIRST_CONNECT_MS, () => stack.diagnostics());
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
      // GoBGP's view of its peer: the collector's AS and router ID.
      const shown = (await router?.cli("neighbor", collector.agent)) ?? "";
      expect(shown).toContain(`remote AS ${COLLECTOR_AS}`);
      expect(shown).toContain(`remote router ID ${COLLECTOR_ROUTER_ID}`);
    }, 40_000);

    test("collector path: /api/devices counts exactly GoBGP's 3 IPv4 and 2 IPv6 prefixes", async () => {
      const { collector } = stack.sessions;
      await expectAnnouncedCounts(stack, routerTail);
      expect(await router?.advertised(collector.agent)).toEqual(ALL);
    }, 30_000);

    test("forward path: GoBGP and BIRD are ESTABLISHED; BIRD holds GoBGP's prefixes unchanged", async () => {
      const { forward } = stack.sessions;
      await router?.waitEstablished(forward.agent, FIRST_CONNECT_MS, () => stack.diagnostics());
      expect(await stack.waitCollectorRoutes(ALL, routerTail)).toEqual(ALL);
      const detail = await stack.collector.birdc("show", "route", "all", "protocol", BIRD_PROTOCOL);
      const asPaths = [...detail.matchAll(/BGP\.as_path: (.*)/g)].map((m) => m[1]);
      expect(asPaths).toEqual(Array(5).fill(String(ROUTER_AS)));
      expect(detail).toContain(`BGP.next_hop: ${forward.router}`);
      expect(detail).toContain(`BGP.next_hop: ${stack.routerIpv6}`);
      // The gateway's observer parsed the same session as it went by.
      const device = await stack.waitDevice(
        forward.device,
        "established with prefixes {ipv4: 3, ipv6: 2}",
        (d) => d.state === "established" && d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2,
        routerTail,
      );
      expect(device.sessions).toBe(1);
    }, 40_000);

    test("wrong peer AS on GoBGP: it answers the collector's OPEN with NOTIFICATION 2/2, never Established", async () => {
      const { wrongAs } = stack.sessions;
      const refused = await stack.waitGatewayRecord(
        "peer sent NOTIFICATION",
        (r) => r.device_ip === wrongAs.router,
        FIRST_CONNECT_MS,
        routerTail,
      );
      expect(refused.notification).toBe("OPEN Message Error/Bad Peer AS (2/2)");
      // GoBGP says why, in its own words.
      await waitUntil(
        () =>
          router?.process
            .lines()
            .some((l) => /sent notification/.test(l.text) && l.text.includes(wrongAs.agent)),
        {
          timeoutMs: 5000,
          what: "GoBGP: 'sent notification' for the wrong-AS neighbour",
          diagnostics: routerTail,
        },
      );
      const line = router?.process
        .lines()
        .find((l) => /sent notification/.test(l.text) && l.text.includes(wrongAs.agent));
      expect(line?.text).toContain(
        `as number mismatch expected ${WRONG_PEER_AS}, received ${COLLECTOR_AS}`,
      );
      expect(await router?.neighborState(wrongAs.agent)).not.toBe("ESTABLISHED");
      const device = await stack.gateway.device(wrongAs.device);
      expect(device.state).not.toBe("established");
      expect(device.prefixes).toEqual({ ipv4: 0, ipv6: 0 });
      expect(device.sessions_total).toBeGreaterThan(0);
      expect(
        stack.gateway.find("BGP session established").filter((r) => r.device_ip === wrongAs.router),
      ).toEqual([]);
    }, 40_000);

    test("withdrawals (`gobgp global rib del`) lower the counts and reach BIRD; sessions kept", async () => {
      const { collector, forward } = stack.sessions;
      await expectWithdrawnCounts(
        stack,
        () => router?.deleteRoutes(WITHDRAWN),
        REMAINING,
        routerTail,
      );
      expect(await router?.neighborState(collector.agent)).toBe("ESTABLISHED");
      expect(await router?.neighborState(forward.agent)).toBe("ESTABLISHED");
    }, 30_000);

    test("GoBGP's default IPv6 next hop (IPv4-mapped): counted by bgproxy, dropped by BIRD", async () => {
      const { collector, forward } = stack.sessions;
      const before = await stack.gateway.device(collector.device);
      await router?.removeIpv6NextHop([collector.agent, forward.agent]);
      // BIRD 2.0.12 calls ::ffff:10.255.n.3 an invalid next hop and withdraws the route ...
      const v4 = REMAINING.filter((p) => !p.includes(":"));
      expect(await stack.waitCollectorRoutes(v4, routerTail)).toEqual(v4);
      expect(stack.collector.logTail(50)).toContain(`Invalid route ${V6[0]} withdrawn`);
      // ... while the built-in collector and the forward observer keep counting it.
      const after = await stack.waitDevice(
        collector.device,
        "a re-sent IPv6 UPDATE",
        (d) => d.updates > before.updates,
        routerTail,
      );
      expect(after.prefixes).toEqual({ ipv4: 2, ipv6: 1 });
      expect((await stack.gateway.device(forward.device)).prefixes).toEqual({ ipv4: 2, ipv6: 1 });
      expect(after.sessions_total).toBe(before.sessions_total);
    }, 30_000);
  },
);
