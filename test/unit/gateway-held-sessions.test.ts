import { describe, expect, test } from "bun:test";
import { type AckRoute, HeldSessions } from "../../src/gateway/held-sessions.ts";
import type { ResumableCall } from "../../src/relay/resumable-call.ts";
import { ManualClock } from "../support/manual-clock.ts";

/** The part of a ResumableCall the table touches: acknowledgements. */
function fakeCall() {
  const acked: number[] = [];
  return { call: { acknowledge: (n: number) => acked.push(n) } as unknown as ResumableCall, acked };
}

function route() {
  const sent: Array<[string, number]> = [];
  const r: AckRoute = { send: (id, n) => sent.push([id, n]) };
  return { r, sent };
}

describe("HeldSessions", () => {
  test("a held session is taken by its device and account within the grace, else expires", () => {
    const clock = new ManualClock();
    const held = new HeldSessions(clock, 1_000);
    const { call } = fakeCall();
    held.add("s1", { call, deviceIp: "192.0.2.1", email: "a@x" });
    let expired = 0;
    held.lost("s1", () => expired++);
    expect(held.waiting).toBe(1);
    expect(held.take("s1", "192.0.2.9", "a@x")).toEqual({
      kind: "mismatch",
      why: "another device address",
    });
    expect(held.take("s1", "192.0.2.1", "b@x").kind).toBe("mismatch");
    expect(held.take("s1", "192.0.2.1", "a@x").kind).toBe("held");
    clock.advance(5_000);
    expect(expired).toBe(0); // taken: the timer is off
    held.lost("s1", () => expired++);
    clock.advance(1_000);
    expect(expired).toBe(1);
    expect(held.take("s1", "192.0.2.1", "a@x").kind).toBe("unknown");
  });

  test("acknowledgements: passed to the session; ours go back on the route that last acknowledged", () => {
    const held = new HeldSessions(new ManualClock(), 1_000);
    const s = fakeCall();
    held.add("s1", { call: s.call, deviceIp: "192.0.2.1", email: "a@x" });
    const one = route();
    const two = route();
    held.sendAck("s1", 3); // no route yet: nothing sent
    expect(held.acknowledged("s1", "a@x", 10, one.r)).toBe(true);
    held.sendAck("s1", 4);
    expect(held.acknowledged("s1", "a@x", 12, two.r)).toBe(true);
    held.sendAck("s1", 5);
    expect(s.acked).toEqual([10, 12]);
    expect(one.sent).toEqual([["s1", 4]]);
    expect(two.sent).toEqual([["s1", 5]]);
    // Another account's acknowledgement, or an unknown session: ignored.
    expect(held.acknowledged("s1", "b@x", 99, one.r)).toBe(false);
    expect(held.acknowledged("nope", "a@x", 99, one.r)).toBe(false);
    expect(s.acked).toEqual([10, 12]);
    held.dropRoute(two.r);
    held.sendAck("s1", 6);
    expect(two.sent).toEqual([["s1", 5]]);
  });
});
