import { describe, expect, test } from "bun:test";
import { BgpBridge, STALL_AFTERMATH_MS } from "../../src/agent/bridge/bgp-bridge.ts";
import type { BridgeAction } from "../../src/agent/bridge/bridge-state.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeNotification } from "../../src/bgp/notification.ts";
import {
  closes,
  established,
  farOpen,
  gaveUpGolden,
  HOLD_TIMER_EXPIRED,
  hex,
  KEEPALIVE,
  routerOpen,
  sent,
  update,
} from "../support/bgp-bridge-fixtures.ts";

/** A stalled far end while relaying (src/agent/bridge/stall-cover.ts); hold time 90 s. */

const notes = (actions: readonly BridgeAction[]) =>
  actions.flatMap((a) => (a.kind === "note" ? [a.reason] : []));

/** Established at t = 0, the far end silent since: covered at 45 s. */
function covered(): BgpBridge {
  const b = established();
  const a = b.tick(45_000);
  expect(sent(a, "toRouter")).toEqual([KEEPALIVE]);
  expect(b.stallState).toBe("covering");
  return b;
}

describe("a silent far end while relaying", () => {
  test("after half the hold time without far-end bytes the router gets a KEEPALIVE, then every hold/3", () => {
    const b = established();
    expect(b.nextDeadline()).toBe(45_000);
    expect(b.tick(44_999)).toEqual([]);
    const a = b.tick(45_000);
    expect(sent(a, "toRouter")).toEqual([KEEPALIVE]);
    expect(notes(a)).toEqual(["the far end is silent: KEEPALIVEs to the router"]);
    expect(b.nextDeadline()).toBe(75_000);
    expect(b.tick(74_999)).toEqual([]);
    const a2 = b.tick(75_000);
    expect(sent(a2, "toRouter")).toEqual([KEEPALIVE]);
    expect(notes(a2)).toEqual([]);
    expect(b.stats.keepalivesSent).toBe(2);
    expect(b.stats.stallsCovered).toBe(1);
    expect(b.state).toBe("established");
  });

  test("a far end's own KEEPALIVEs every hold/3 are never doubled", () => {
    const b = established();
    for (let t = 30_000; t <= 300_000; t += 30_000) {
      expect(b.tick(t - 1)).toEqual([]);
      expect(sent(b.fromFarEnd(encodeKeepalive(), t), "toRouter")).toEqual([KEEPALIVE]);
      expect(b.nextDeadline()).toBe(t + 45_000);
    }
    expect(b.stats.keepalivesSent).toBe(0);
    expect(b.stallState).toBe("flowing");
  });

  test("the router's bytes still go to the far end while covering", () => {
    const b = covered();
    const u = update();
    expect(b.fromRouter(u, 50_000)).toEqual([{ kind: "toFarEnd", bytes: u }]);
  });

  test("far-end messages pass whole: the start of one is held until the rest is in", () => {
    const b = established();
    const ka = encodeKeepalive();
    expect(b.fromFarEnd(ka.subarray(0, 7), 10_000)).toEqual([]);
    // Nothing of it reached the router: a loss now would still be bridged.
    expect(b.bridgeBlocker).toBeUndefined();
    const a = b.fromFarEnd(
      new Uint8Array([...ka.subarray(7), ...ka, ...ka.subarray(0, 3)]),
      10_010,
    );
    expect(sent(a, "toRouter").join("")).toBe(KEEPALIVE + KEEPALIVE);
    expect(b.nextDeadline()).toBe(10_010 + 45_000);
    expect(sent(b.fromFarEnd(ka.subarray(3), 10_020), "toRouter").join("")).toBe(KEEPALIVE);
  });

  test("the far end speaks again after a covered stall: its messages flow, the cover stops", () => {
    const b = covered();
    const a = b.fromFarEnd(new Uint8Array([...encodeKeepalive(), ...encodeKeepalive()]), 60_000);
    expect(sent(a, "toRouter").join("")).toBe(KEEPALIVE + KEEPALIVE);
    expect(b.stallState).toBe("flowing");
    expect(b.nextDeadline()).toBe(60_000 + 45_000);
  });

  test("the far end's hold timer expired during the stall: its NOTIFICATION never reaches the router; the end of its stream is bridged", () => {
    const b = covered();
    const n = encodeNotification({ code: 4, subcode: 0 });
    expect(hex(n)).toBe(HOLD_TIMER_EXPIRED);
    // What it sent before it expired comes first, then the NOTIFICATION, split.
    const before = new Uint8Array([...encodeKeepalive(), ...n.subarray(0, 5)]);
    expect(sent(b.fromFarEnd(before, 100_000), "toRouter")).toEqual([KEEPALIVE]);
    const a = b.fromFarEnd(n.subarray(5), 100_001);
    expect(sent(a, "toRouter")).toEqual([]);
    expect(notes(a)).toEqual([
      "the far end's hold timer expired (a stall): its NOTIFICATION is dropped",
    ]);
    expect(b.stallState).toBe("far-end-ended");
    expect(b.fromFarEnd(encodeKeepalive(), 100_002)).toEqual([]);
    expect(b.bridgeBlocker).toBeUndefined();
    // The router still gets KEEPALIVEs until the stream ends.
    expect(sent(b.tick(130_000), "toRouter")).toEqual([KEEPALIVE]);
    const lost = b.farEndLost(131_000, "closed: the far end's FIN");
    expect(b.state).toBe("bridging");
    expect(closes(lost)).toEqual([]);
    expect(sent(lost, "toRouter")).toEqual([KEEPALIVE]);
    // A new far end takes over and relaying flows again.
    b.farEndAttached(132_000);
    b.fromFarEnd(farOpen(), 132_100);
    b.fromFarEnd(encodeKeepalive(), 132_200);
    expect(b.state).toBe("established");
    expect(b.stallState).toBe("flowing");
    expect(b.nextDeadline()).toBe(132_200 + 45_000);
  });

  test("a Send Hold Timer Expired (RFC 9687, code 8) is a stall too, covered or not", () => {
    const b = established();
    const n = encodeNotification({ code: 8, subcode: 0 });
    const a = b.fromFarEnd(n, 5_000);
    expect(sent(a, "toRouter")).toEqual([]);
    expect(b.stallState).toBe("far-end-ended");
    expect(b.farEndLost(6_000, "closed")[0]).toMatchObject({ to: "bridging" });
  });

  test("a far end that did not stall long enough is relayed as before, its NOTIFICATION included", () => {
    const b = established();
    b.tick(44_000);
    const n = encodeNotification({ code: 6, subcode: 2 });
    expect(sent(b.fromFarEnd(n, 44_500), "toRouter")).toEqual([hex(n)]);
    expect(b.bridgeBlocker).toBe("the far end sent a NOTIFICATION");
    expect(b.nextDeadline()).toBeUndefined();
  });

  test("no cover where bridging would not apply: no route refresh, or routes from the far end", () => {
    const noRefresh = established(routerOpen({}, false));
    expect(noRefresh.nextDeadline()).toBeUndefined();
    expect(noRefresh.tick(100_000)).toEqual([]);
    const routes = established();
    const u = update();
    // Once it is a session that cannot be bridged, bytes pass as they come, split or not.
    expect(sent(routes.fromFarEnd(u, 1_000), "toRouter")).toEqual([hex(u)]);
    const half = encodeKeepalive().subarray(0, 3);
    expect(sent(routes.fromFarEnd(half, 1_001), "toRouter")).toEqual([hex(half)]);
    routes.fromFarEnd(encodeKeepalive().subarray(3), 1_001);
    expect(routes.nextDeadline()).toBeUndefined();
    expect(routes.tick(100_000)).toEqual([]);
    expect(routes.stats.keepalivesSent).toBe(0);
    // A far end's NOTIFICATION of any kind then reaches the router.
    const n = encodeNotification({ code: 4, subcode: 0 });
    expect(sent(routes.fromFarEnd(n, 1_002), "toRouter")).toEqual([hex(n)]);
  });

  test("bytes that are not BGP after a stall are relayed as they are", () => {
    const b = covered();
    const junk = new Uint8Array(19).fill(0);
    expect(sent(b.fromFarEnd(junk, 50_000), "toRouter")).toEqual([hex(junk)]);
    expect(b.bridgeBlocker).toBe("the far end's bytes are not BGP");
  });

  test("a far end silent for the give-up bound: Cease to the router, closed (as bridging)", () => {
    const b = new BgpBridge({ giveUpMs: 60_000, handshakeMs: 30_000 });
    b.fromRouter(routerOpen(), 0);
    b.fromFarEnd(farOpen(), 0);
    b.fromFarEnd(encodeKeepalive(), 0);
    b.fromRouter(encodeKeepalive(), 0);
    b.tick(45_000);
    expect(b.stallState).toBe("covering");
    expect(b.nextDeadline()).toBe(75_000);
    b.tick(75_000);
    expect(b.nextDeadline()).toBe(105_000);
    expect(b.tick(104_999)).toEqual([]);
    const a = b.tick(105_000);
    expect(sent(a, "toRouter")).toEqual([gaveUpGolden(60)]);
    expect(closes(a)).toEqual(["closeRouter"]);
    expect(b.state).toBe("closed");
  });

  test("a short hold time: at least a second between KEEPALIVEs", () => {
    const b = established(routerOpen({ holdTime: 3 }), farOpen({ holdTime: 3 }));
    expect(b.nextDeadline()).toBe(1_500);
    b.tick(1_500);
    expect(b.nextDeadline()).toBe(2_500);
  });
});

describe("what a KILL on the far end's stream means (killIsLoss)", () => {
  test("while the far end flows (before a stall, or again well after one): the end of the router's session", () => {
    const flowing = established();
    flowing.fromFarEnd(encodeKeepalive(), 30_000);
    expect(flowing.stallState).toBe("flowing");
    expect(flowing.killIsLoss(30_001)).toBe(false);
    const again = covered();
    again.fromFarEnd(encodeKeepalive(), 50_000);
    expect(again.stallState).toBe("flowing");
    expect(again.killIsLoss(50_000 + STALL_AFTERMATH_MS + 1)).toBe(false);
  });

  test("once its silence is covered, or after its Hold Timer Expired: a lost far end", () => {
    const b = covered();
    expect(b.killIsLoss(45_000)).toBe(true);
    b.fromFarEnd(Buffer.from(HOLD_TIMER_EXPIRED, "hex"), 50_000);
    expect(b.stallState).toBe("far-end-ended");
    expect(b.killIsLoss(50_001)).toBe(true);
  });

  test("just after a covered far end's bytes passed again (what a healed transport held): a lost far end", () => {
    // CI's 60 s partition: the daemon's queued KEEPALIVEs reached the router as the link
    // healed, and 1 ms later the KILL of the gateway's failed write to the closed daemon.
    const b = covered();
    b.fromFarEnd(encodeKeepalive(), 50_000);
    expect(b.stallState).toBe("flowing");
    expect(b.killIsLoss(50_001)).toBe(true);
    expect(b.killIsLoss(50_000 + STALL_AFTERMATH_MS)).toBe(true);
    expect(b.killIsLoss(50_000 + STALL_AFTERMATH_MS + 1)).toBe(false);
    // A new far end that took over starts afresh: its KILL while flowing is the router's end.
    b.farEndLost(51_000, "stream reset");
    b.farEndAttached(52_000);
    b.fromFarEnd(farOpen(), 52_100);
    b.fromFarEnd(encodeKeepalive(), 52_200);
    expect(b.state).toBe("established");
    expect(b.killIsLoss(52_300)).toBe(false);
  });
});

describe("what the far end's FIN means (finIsLoss)", () => {
  test("before Established, or once bridging would not apply: a FIN passed on to the router", () => {
    const b = new BgpBridge();
    expect(b.finIsLoss).toBe(false);
    const e = established();
    e.fromFarEnd(update(), 1_000); // the far end sent the router routes: no bridging
    expect(e.bridgeBlocker).toBeDefined();
    expect(e.finIsLoss).toBe(false);
  });

  test("through a loss and a re-attach: a KILL or a FIN in each state", () => {
    const b = established();
    const meaning = (now: number) => ({
      state: b.state,
      kill: b.killIsLoss(now),
      fin: b.finIsLoss,
    });
    const seen = [meaning(500)];
    b.farEndLost(1_000, "stream reset");
    seen.push(meaning(1_000));
    b.farEndAttached(2_000);
    seen.push(meaning(2_000));
    b.fromFarEnd(farOpen(), 2_100);
    seen.push(meaning(2_100));
    b.fromFarEnd(encodeKeepalive(), 2_200);
    seen.push(meaning(2_200));
    expect(seen).toEqual([
      { state: "established", kill: false, fin: true },
      // No stream while bridging: a KILL cannot come.
      { state: "bridging", kill: false, fin: true },
      // The router knows nothing of a far end in its handshake: either is a loss.
      { state: "reattach-open-sent", kill: true, fin: true },
      { state: "reattach-open-confirm", kill: true, fin: true },
      { state: "established", kill: false, fin: true },
    ]);
  });
});
