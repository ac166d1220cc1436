/**
 * The adaptive stream window (src/relay/adaptive-stream-window.ts): small at first and while
 * a stream is held back, doubling after `growAfterWindows` windows' worth without a hold.
 */
import { describe, expect, test } from "bun:test";
import { AdaptiveStreamWindow } from "../../src/relay/adaptive-stream-window.ts";

const KiB = 1024;
const LIMITS = { min: 256 * KiB, max: 2048 * KiB, growAfterWindows: 4 };

function window(limits = LIMITS) {
  const applied: number[] = [];
  return { applied, w: new AdaptiveStreamWindow(limits, (size) => applied.push(size)) };
}

describe("AdaptiveStreamWindow", () => {
  test("starts at min, doubles after every growAfterWindows windows' worth, up to max", () => {
    const { applied, w } = window();
    expect(applied).toEqual([256 * KiB]);
    w.received(4 * 256 * KiB - 1);
    expect(w.size).toBe(256 * KiB);
    w.received(1);
    expect(w.size).toBe(512 * KiB);
    w.received(4 * 512 * KiB);
    w.received(4 * 1024 * KiB);
    expect(applied).toEqual([256, 512, 1024, 2048].map((k) => k * KiB));
    w.received(64 * 1024 * KiB);
    expect(w.size).toBe(2048 * KiB);
    expect(applied).toHaveLength(4);
  });

  test("a hold goes back to min; growing again needs the full count after it", () => {
    const { applied, w } = window();
    for (let i = 0; i < 7 * 64; i++) w.received(16 * KiB);
    expect(w.size).toBe(2048 * KiB);
    w.held();
    expect(w.size).toBe(256 * KiB);
    expect(applied.at(-1)).toBe(256 * KiB);
    // At min, a hold applies nothing but restarts the count.
    w.received(3 * 256 * KiB);
    w.held();
    expect(applied).toHaveLength(5);
    w.received(3 * 256 * KiB);
    expect(w.size).toBe(256 * KiB);
    w.received(256 * KiB);
    expect(w.size).toBe(512 * KiB);
  });

  test("limits must make sense", () => {
    expect(() => window({ ...LIMITS, min: 0 })).toThrow(RangeError);
    expect(() => window({ ...LIMITS, min: 4096 * KiB })).toThrow(RangeError);
    expect(() => window({ ...LIMITS, growAfterWindows: 0 })).toThrow(RangeError);
    expect(window({ ...LIMITS, min: LIMITS.max }).w.size).toBe(LIMITS.max);
  });
});
