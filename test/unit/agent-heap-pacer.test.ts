import { describe, expect, test } from "bun:test";
import { HeapPacer } from "../../src/agent/heap-pacer.ts";

/** A pacer of 1000 bytes / 250 ms on a hand-moved clock, counting the collections it asks for. */
function pacerAt() {
  const state = { asked: 0, now: 0 };
  const pacer = new HeapPacer(
    () => state.asked++,
    () => state.now,
    1000,
    250,
  );
  return { state, pacer };
}

describe("HeapPacer", () => {
  test("asks for a collection once everyBytes were relayed, counting across chunks", () => {
    const { state, pacer } = pacerAt();
    for (let i = 0; i < 9; i++) pacer.note(100);
    expect(state.asked).toBe(0);
    pacer.note(100); // 1000 bytes
    expect(state.asked).toBe(1);
    state.now = 300;
    pacer.note(999);
    expect(state.asked).toBe(1);
    pacer.note(1);
    expect(state.asked).toBe(2);
    expect(pacer.collections).toBe(2);
  });

  test("not sooner than minIntervalMs after the last collection, however fast bytes come", () => {
    const { state, pacer } = pacerAt();
    pacer.note(5000);
    for (let t = 1; t < 250; t += 10) {
      state.now = t;
      pacer.note(5000);
    }
    expect(state.asked).toBe(1);
    state.now = 250;
    pacer.note(1);
    expect(state.asked).toBe(2);
  });

  test("refuses a threshold that is not a positive number", () => {
    expect(
      () =>
        new HeapPacer(
          () => {},
          () => 0,
          0,
        ),
    ).toThrow(RangeError);
    expect(
      () =>
        new HeapPacer(
          () => {},
          () => 0,
          Number.NaN,
        ),
    ).toThrow(RangeError);
  });
});
