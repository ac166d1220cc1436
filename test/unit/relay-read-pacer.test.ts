import { describe, expect, test } from "bun:test";
import {
  PACE_BELOW_BYTES,
  PACE_HOLD_MS,
  PACE_MS,
  PACE_STREAK,
  PACE_STREAK_MS,
  ReadPacer,
} from "../../src/relay/read-pacer.ts";

/**
 * The pacer alone (the relay around it: relay-coalescing.test.ts). Each step, as a stream of
 * small writes goes: a read (what came while held: it is not held), a second one right
 * after it and the hold that one asks for; time then moves past the hold.
 */
function holdsInARow(pacer: ReadPacer, count: number, from = 0): { holds: number[]; now: number } {
  let now = from;
  const holds: number[] = [];
  for (let i = 0; i < count; i++) {
    expect(pacer.read(800, now, false, false)).toBe(0);
    now += 0.2;
    const hold = pacer.read(80, now, false, false);
    holds.push(hold);
    now += hold;
  }
  return { holds, now };
}

describe("ReadPacer", () => {
  test("an idle session's first read, large reads, a backlog and a running hold are not held", () => {
    const pacer = new ReadPacer();
    expect(pacer.read(80, 0, false, false)).toBe(0);
    expect(pacer.read(PACE_BELOW_BYTES, 0.1, false, false)).toBe(0);
    expect(pacer.read(80, 0.2, true, false)).toBe(0);
    expect(pacer.read(80, 0.3, false, true)).toBe(0);
    expect(pacer.read(PACE_BELOW_BYTES - 1, 0.4, false, false)).toBe(PACE_MS);
  });

  test("a small read PACE_MS or more after the previous read is not held", () => {
    const pacer = new ReadPacer();
    pacer.read(80, 0, false, false);
    expect(pacer.read(80, PACE_MS, false, false)).toBe(0);
  });

  test("holds in a row: PACE_STREAK short ones, then PACE_HOLD_MS", () => {
    const { holds } = holdsInARow(new ReadPacer(), PACE_STREAK + 5);
    expect(holds).toEqual([...Array(PACE_STREAK).fill(PACE_MS), ...Array(5).fill(PACE_HOLD_MS)]);
  });

  test("a gap of PACE_STREAK_MS between holds starts the streak afresh", () => {
    const pacer = new ReadPacer();
    const first = holdsInARow(pacer, PACE_STREAK + 1);
    expect(first.holds.at(-1)).toBe(PACE_HOLD_MS);
    const after = holdsInARow(pacer, PACE_STREAK + 1, first.now + PACE_STREAK_MS);
    expect(after.holds).toEqual([...Array(PACE_STREAK).fill(PACE_MS), PACE_HOLD_MS]);
  });

  test("a message sent counts as activity: a small read right after it is held", () => {
    const pacer = new ReadPacer();
    pacer.sent(10);
    expect(pacer.read(80, 10.5, false, false)).toBe(PACE_MS);
    const later = new ReadPacer();
    later.sent(10);
    expect(later.read(80, 10 + PACE_MS, false, false)).toBe(0);
  });
});
