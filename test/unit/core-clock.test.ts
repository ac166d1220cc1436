import { describe, expect, test } from "bun:test";
import { monotonicClock, systemClock } from "../../src/core/clock.ts";

describe("monotonicClock", () => {
  test("now() is performance.now(): the process's monotonic ms, not the epoch's", () => {
    const before = performance.now();
    const now = monotonicClock.now();
    const after = performance.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(after);
    // Since the process started, not since 1970 (which systemClock counts).
    expect(systemClock.now() - now).toBeGreaterThan(1_000_000_000_000);
  });

  test("schedule runs the function once; cancel stops it", async () => {
    const ran: string[] = [];
    monotonicClock.schedule(0, () => ran.push("kept"));
    monotonicClock.schedule(0, () => ran.push("cancelled")).cancel();
    // Bounded: a few turns of the event loop, no timing asserted.
    for (let i = 0; i < 100 && ran.length === 0; i++) await Bun.sleep(1);
    expect(ran).toEqual(["kept"]);
  });
});
