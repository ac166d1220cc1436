import { describe, expect, test } from "bun:test";
import { HeapPacer } from "../../src/agent/heap-pacer.ts";

describe("HeapPacer", () => {
  test("asks for a collection once everyBytes were relayed, counting across chunks", () => {
    let asked = 0;
    let now = 0;
    const pacer = new HeapPacer(
      () => asked++,
      () => now,
      1000,
      250,
    );
    for (let i = 0; i < 9; i++) pacer.note(100);
    expect(asked).toBe(0);
    pacer.note(100); // 1000 bytes
    expect(asked).toBe(1);
    now = 300;
    pacer.note(999);
    expect(asked).toBe(1);
    pacer.note(1);
    expect(asked).toBe(2);
    expect(pacer.collections).toBe(2);
  });

  test("not sooner than minIntervalMs after the last collection, however fast bytes come", () => {
    let asked = 0;
    let now = 0;
    const pacer = new HeapPacer(
      () => asked++,
      () => now,
      1000,
      250,
    );
    pacer.note(5000);
    for (let t = 1; t < 250; t += 10) {
      now = t;
      pacer.note(5000);
    }
    expect(asked).toBe(1);
    now = 250;
    pacer.note(1);
    expect(asked).toBe(2);
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
