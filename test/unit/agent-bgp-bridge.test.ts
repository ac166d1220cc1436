import { describe, expect, test } from "bun:test";
import { BgpBridge, type BgpBridge as Bridge } from "../../src/agent/bridge/bgp-bridge.ts";
import type { BridgeAction } from "../../src/agent/bridge/bridge-state.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeNotification } from "../../src/bgp/notification.ts";
import {
  BOTH_FAMILIES,
  CEASE_OTHER_CONFIG_CHANGE,
  closes,
  established,
  FSM_UNEXPECTED_IN_ESTABLISHED,
  FSM_UNEXPECTED_IN_OPENSENT,
  farOpen,
  gaveUpGolden,
  HOLD_TIMER_EXPIRED,
  hex,
  IPV4_EOR,
  IPV6_EOR,
  KEEPALIVE,
  MARKER,
  RR_IPV4_UNICAST,
  RR_IPV6_UNICAST,
  routerOpen,
  sent,
  update,
} from "../support/bgp-bridge-fixtures.ts";

/** Established, far end lost at t = 1000, re-attached, handshake done: back to relaying. */
function resumed(b: Bridge, far = farOpen()): readonly BridgeAction[] {
  b.farEndLost(1_000, "stream reset");
  b.farEndAttached(2_000);
  b.fromFarEnd(far, 2_100);
  return b.fromFarEnd(encodeKeepalive(), 2_200);
}

describe("BgpBridge while the far end is there", () => {
  test("relays every chunk unchanged, both ways, and sees the session become Established", () => {
    const b = new BgpBridge();
    const open = routerOpen();
    const a1 = b.fromRouter(open, 0);
    expect(a1).toEqual([{ kind: "toFarEnd", bytes: open }]);
    expect((a1[0] as { bytes: Uint8Array }).bytes).toBe(open);
    const far = farOpen();
    expect(b.fromFarEnd(far, 0)).toEqual([{ kind: "toRouter", bytes: far }]);
    b.fromFarEnd(encodeKeepalive(), 0);
    const a2 = b.fromRouter(encodeKeepalive(), 0);
    expect(a2[1]).toMatchObject({ kind: "state", from: "opening", to: "established" });
    const u = update();
    expect(b.fromRouter(u, 5)).toEqual([{ kind: "toFarEnd", bytes: u }]);
    expect(b.bridgeBlocker).toBeUndefined();
    // Only the cover of a silent far end is pending (agent-bridge-stall.test.ts).
    expect(b.nextDeadline()).toBe(45_000);
  });

  test("a loss before Established closes the router's session (no bridging)", () => {
    const b = new BgpBridge();
    b.fromRouter(routerOpen(), 0);
    const a = b.farEndLost(10, "gone");
    expect(closes(a)).toEqual(["closeRouter"]);
    expect(sent(a, "toRouter")).toEqual([]);
    expect(b.state).toBe("closed");
  });

  test("a router without route refresh gets today's behaviour: closed on loss", () => {
    const b = established(routerOpen({}, false));
    expect(b.bridgeBlocker).toBe("the router did not advertise route refresh");
    const a = b.farEndLost(10, "gone");
    expect(closes(a)).toEqual(["closeRouter"]);
    expect(b.stats.bridged).toBe(0);
  });

  test("a far end that sent the router routes makes bridging unsafe", () => {
    const b = established();
    b.fromFarEnd(update(), 1);
    expect(b.bridgeBlocker).toBe("the far end sent the router routes");
    expect(closes(b.farEndLost(10, "gone"))).toEqual(["closeRouter"]);
  });

  test("a loss in the middle of a message to the router cannot be bridged", () => {
    // Half a message relayed before the session was Established (later ones are held
    // back until whole: agent-bridge-stall.test.ts).
    const b = new BgpBridge();
    b.fromRouter(routerOpen(), 0);
    b.fromFarEnd(farOpen(), 0);
    b.fromRouter(encodeKeepalive(), 0);
    const ka = encodeKeepalive();
    b.fromFarEnd(new Uint8Array([...ka, ...ka.subarray(0, 7)]), 1);
    expect(b.state).toBe("established");
    expect(b.bridgeBlocker).toBe("a message to the router is half sent");
    expect(closes(b.farEndLost(10, "gone"))).toEqual(["closeRouter"]);
  });
});

describe("BgpBridge while bridging", () => {
  test("a KEEPALIVE at once, then every hold/3; the router's UPDATEs dropped and counted", () => {
    const b = established();
    const a = b.farEndLost(1_000, "stream reset");
    expect(sent(a, "toRouter")).toEqual([KEEPALIVE]);
    expect(a.find((x) => x.kind === "state")).toMatchObject({ to: "bridging" });
    expect(b.nextDeadline()).toBe(31_000);
    expect(b.tick(30_999)).toEqual([]);
    expect(sent(b.tick(31_000), "toRouter")).toEqual([KEEPALIVE]);
    const u = update();
    const twoUpdates = new Uint8Array([...u, ...u]);
    expect(b.fromRouter(twoUpdates, 32_000)).toEqual([]);
    expect(b.stats).toMatchObject({
      bridged: 1,
      routerUpdatesDropped: 2,
      routerBytesDropped: twoUpdates.length,
      keepalivesSent: 2,
    });
  });

  test("the first KEEPALIVE waits until a second after the far end's last message (RFC 4271 4.4)", () => {
    const b = established(); // the far end's KEEPALIVE reached the router at t = 0
    const a = b.farEndLost(400, "stream reset");
    expect(sent(a, "toRouter")).toEqual([]);
    expect(b.nextDeadline()).toBe(1_000);
    expect(b.tick(999)).toEqual([]);
    expect(sent(b.tick(1_000), "toRouter")).toEqual([KEEPALIVE]);
    expect(b.nextDeadline()).toBe(31_000);
    expect(b.stats.keepalivesSent).toBe(1);
  });

  test("the router's hold timer: silent for the hold time -> Hold Timer Expired, closed", () => {
    const b = established();
    b.farEndLost(1_000, "stream reset");
    b.fromRouter(encodeKeepalive(), 50_000);
    expect(b.tick(139_999).some((x) => x.kind === "closeRouter")).toBe(false);
    const a = b.tick(140_000);
    expect(sent(a, "toRouter")).toEqual([HOLD_TIMER_EXPIRED]);
    expect(closes(a)).toEqual(["closeRouter"]);
    expect(b.state).toBe("closed");
  });

  test("the give-up bound: Cease/Administrative Reset with a shutdown communication", () => {
    const b = new BgpBridge({ giveUpMs: 60_000, handshakeMs: 30_000 });
    b.fromRouter(routerOpen(), 0);
    b.fromFarEnd(farOpen(), 0);
    b.fromFarEnd(encodeKeepalive(), 0);
    b.fromRouter(encodeKeepalive(), 0);
    b.farEndLost(1_000, "gone");
    for (let t = 2_000; t < 61_000; t += 10_000) b.fromRouter(encodeKeepalive(), t);
    const a = b.tick(61_000);
    expect(sent(a, "toRouter")).toEqual([gaveUpGolden(60)]);
    expect(closes(a)).toEqual(["closeRouter"]);
  });

  test("a router NOTIFICATION ends it; a router OPEN is an FSM error", () => {
    const b1 = established();
    b1.farEndLost(1_000, "gone");
    const n = encodeNotification({ code: 6, subcode: 2 });
    expect(closes(b1.fromRouter(n, 2_000))).toEqual(["closeRouter"]);
    const b2 = established();
    b2.farEndLost(1_000, "gone");
    const a = b2.fromRouter(routerOpen(), 2_000);
    expect(sent(a, "toRouter")).toEqual([FSM_UNEXPECTED_IN_ESTABLISHED]);
    expect(b2.state).toBe("closed");
  });
});

describe("BgpBridge re-attaching a far end", () => {
  test("replays the router's OPEN, answers a matching OPEN, asks the router to refresh every family", () => {
    const router = routerOpen();
    const b = established(router);
    b.farEndLost(1_000, "stream reset");
    const a1 = b.farEndAttached(2_000);
    expect(sent(a1, "toFarEnd")).toEqual([hex(router)]);
    expect(b.state).toBe("reattach-open-sent");
    const a2 = b.fromFarEnd(farOpen({ routerId: "192.0.2.2" }), 2_100);
    expect(sent(a2, "toFarEnd")).toEqual([KEEPALIVE]);
    expect(sent(a2, "toRouter")).toEqual([]);
    expect(b.state).toBe("reattach-open-confirm");
    // The far end's KEEPALIVE and what follows it in the same chunk.
    const after = encodeKeepalive();
    const a3 = b.fromFarEnd(new Uint8Array([...encodeKeepalive(), ...after]), 2_200);
    expect(sent(a3, "toRouter")).toEqual([RR_IPV4_UNICAST, RR_IPV6_UNICAST, KEEPALIVE]);
    // End-of-RIB to the far end first: stale routes of the old session go before the refresh.
    expect(sent(a3, "toFarEnd")).toEqual([IPV4_EOR, IPV6_EOR]);
    expect(b.state).toBe("established");
    expect(b.stats).toMatchObject({ bridged: 1, resumed: 1, routeRefreshesSent: 2 });
    const u = update();
    expect(b.fromRouter(u, 2_300)).toEqual([{ kind: "toFarEnd", bytes: u }]);
    expect(b.bridgeBlocker).toBeUndefined();
  });

  test("a router message cut by the switch back is dropped up to the next boundary", () => {
    const b = established();
    b.farEndLost(1_000, "gone");
    const u = update();
    b.fromRouter(u.subarray(0, 10), 1_500);
    resumedFrom(b);
    const rest = new Uint8Array([...u.subarray(10), ...encodeKeepalive()]);
    const a = b.fromRouter(rest, 3_000);
    expect(sent(a, "toFarEnd")).toEqual([KEEPALIVE]);
    expect(b.stats.routerBytesDropped).toBe(u.length);
  });

  test("a far end of another AS: Cease/Other Configuration Change to both, both closed", () => {
    const b = established();
    b.farEndLost(1_000, "gone");
    b.farEndAttached(2_000);
    const a = b.fromFarEnd(farOpen({ asn: 64999 }), 2_100);
    expect(sent(a, "toFarEnd")).toEqual([CEASE_OTHER_CONFIG_CHANGE]);
    expect(sent(a, "toRouter")).toEqual([CEASE_OTHER_CONFIG_CHANGE]);
    expect(closes(a)).toEqual(["closeFarEnd", "closeRouter"]);
    const reason = a.find((x) => x.kind === "closeRouter");
    expect(reason).toMatchObject({ reason: expect.stringContaining("AS 64999, not 64512") });
  });

  test("a far end's NOTIFICATION is passed to the router as it is, and the session ends", () => {
    const b = established();
    b.farEndLost(1_000, "gone");
    b.farEndAttached(2_000);
    const badPeerAs = encodeNotification({ code: 2, subcode: 2 });
    const a = b.fromFarEnd(badPeerAs, 2_100);
    expect(sent(a, "toRouter")).toEqual([hex(badPeerAs)]);
    expect(b.state).toBe("closed");
  });

  test("a far end that sends something else first is dropped; bridging goes on; another is tried", () => {
    const b = established();
    b.farEndLost(1_000, "gone");
    b.farEndAttached(2_000);
    const a = b.fromFarEnd(encodeKeepalive(), 2_100);
    expect(sent(a, "toFarEnd")).toEqual([FSM_UNEXPECTED_IN_OPENSENT]);
    expect(closes(a)).toEqual(["closeFarEnd"]);
    expect(b.state).toBe("bridging");
    b.farEndAttached(3_000);
    b.fromFarEnd(farOpen(), 3_100);
    b.fromFarEnd(encodeKeepalive(), 3_200);
    expect(b.state).toBe("established");
  });

  test("a silent new far end is dropped after the handshake bound; the give-up bound counts from the first loss", () => {
    const b = established();
    b.farEndLost(1_000, "gone");
    b.farEndAttached(2_000);
    expect(b.nextDeadline()).toBe(31_000);
    b.fromRouter(encodeKeepalive(), 30_000);
    const a = b.tick(32_000);
    expect(sent(a, "toFarEnd")).toEqual([HOLD_TIMER_EXPIRED]);
    expect(closes(a)).toEqual(["closeFarEnd"]);
    expect(b.state).toBe("bridging");
    b.farEndAttached(40_000);
    expect(b.farEndLost(41_000, "again")[0]).toMatchObject({ to: "bridging" });
    for (let t = 60_000; t < 301_000; t += 30_000) b.fromRouter(encodeKeepalive(), t);
    expect(closes(b.tick(301_000))).toEqual(["closeRouter"]);
  });

  test("with Enhanced Route Refresh in force, the request is still subtype 0 (the router sends BoRR/EoRR)", () => {
    const caps = {
      multiprotocol: BOTH_FAMILIES.slice(0, 1),
      routeRefresh: true,
      enhancedRouteRefresh: true,
    };
    const b = established(routerOpen({ capabilities: caps }), farOpen({ capabilities: caps }));
    const a = resumed(b, farOpen({ capabilities: caps }));
    expect(sent(a, "toRouter")).toEqual([RR_IPV4_UNICAST]);
  });

  test("a far end without Enhanced Route Refresh cannot take over a session that uses it", () => {
    const caps = { multiprotocol: BOTH_FAMILIES, routeRefresh: true, enhancedRouteRefresh: true };
    const b = established(routerOpen({ capabilities: caps }), farOpen({ capabilities: caps }));
    b.farEndLost(1_000, "gone");
    b.farEndAttached(2_000);
    const a = b.fromFarEnd(farOpen(), 2_100);
    expect(b.state).toBe("closed");
    expect(a.find((x) => x.kind === "closeRouter")).toMatchObject({
      reason: expect.stringContaining("enhanced route refresh lost"),
    });
  });
});

function resumedFrom(b: Bridge): void {
  b.farEndAttached(2_000);
  b.fromFarEnd(farOpen(), 2_100);
  b.fromFarEnd(encodeKeepalive(), 2_200);
  expect(b.state).toBe("established");
}

describe("End-of-RIB markers from the far end", () => {
  const bytes = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

  test("are no routes: bridging still applies", () => {
    const b = established();
    expect(sent(b.fromFarEnd(bytes(IPV4_EOR + IPV6_EOR), 1), "toRouter")).toEqual([
      IPV4_EOR + IPV6_EOR,
    ]);
    expect(b.bridgeBlocker).toBeUndefined();
  });

  test("a withdrawal of the same length is a route: bridging no longer applies", () => {
    const b = established();
    // withdrawn length 3: 10.0.0.0/16 withdrawn, no attributes (26 octets).
    b.fromFarEnd(bytes(`${MARKER}001a02000310 0a00 0000`.replaceAll(" ", "")), 1);
    expect(b.bridgeBlocker).toBe("the far end sent the router routes");
  });
});

describe("a RESTART for a session that cannot be bridged", () => {
  const message = Buffer.from("bgproxy gateway shutting down").toString("hex");
  const ADMIN_SHUTDOWN = `${MARKER}00330306021d${message}`;

  test("tells the router why: Cease / Administrative Shutdown, then closes", () => {
    const b = established(routerOpen({}, false));
    const a = b.farEndLost(10, "restart", true);
    expect(sent(a, "toRouter")).toEqual([ADMIN_SHUTDOWN]);
    expect(closes(a)).toEqual(["closeRouter"]);
  });

  test("with bridging off (giveUpMs 0) too; a plain loss closes without a word", () => {
    const off = () => {
      const b = new BgpBridge({ giveUpMs: 0, handshakeMs: 30_000 });
      b.fromRouter(routerOpen(), 0);
      b.fromFarEnd(farOpen(), 0);
      b.fromFarEnd(encodeKeepalive(), 0);
      b.fromRouter(encodeKeepalive(), 0);
      return b;
    };
    const b1 = off();
    expect(b1.bridgeBlocker).toBe("bridging is off");
    expect(sent(b1.farEndLost(10, "restart", true), "toRouter")).toEqual([ADMIN_SHUTDOWN]);
    expect(sent(off().farEndLost(10, "stream reset"), "toRouter")).toEqual([]);
  });
});
