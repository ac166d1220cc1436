import { describe, expect, test } from "bun:test";
import { GcPacer } from "../../src/core/gc-pacer.ts";
import { ManualClock } from "../support/manual-clock.ts";

const MiB = 1024 * 1024;

/** A process whose RSS the test sets; a collection frees what the test calls garbage. */
function fakeProcess(rss: number) {
  const p = { rss, garbage: 0, collections: 0 };
  return {
    p,
    rss: () => p.rss,
    collect: () => {
      p.collections++;
      p.rss -= p.garbage;
      p.garbage = 0;
    },
    grow: (live: number, garbage: number) => {
      p.rss += live + garbage;
      p.garbage += garbage;
    },
  };
}

describe("GcPacer", () => {
  test("collects only after the RSS grew by the threshold, then from the new baseline", () => {
    const clock = new ManualClock();
    const f = fakeProcess(100 * MiB);
    const pacer = new GcPacer(clock, f.rss, f.collect, { intervalMs: 1000, growthBytes: 4 * MiB });
    pacer.start();
    f.grow(0, 3 * MiB);
    clock.advance(1000);
    expect(f.p.collections).toBe(0);
    f.grow(0, 2 * MiB); // 5 MiB over the baseline
    clock.advance(1000);
    expect(f.p.collections).toBe(1);
    expect(f.p.rss).toBe(100 * MiB);
    // Live growth (a session's prefixes) moves the baseline up: no collection every second.
    f.grow(6 * MiB, 0);
    clock.advance(1000);
    expect(f.p.collections).toBe(2);
    clock.advance(5000);
    expect(f.p.collections).toBe(2);
    expect(pacer.collections).toBe(2);
  });

  test("a drop in RSS lowers the baseline; stop() ends the checks", () => {
    const clock = new ManualClock();
    const f = fakeProcess(100 * MiB);
    const pacer = new GcPacer(clock, f.rss, f.collect, { intervalMs: 1000, growthBytes: 4 * MiB });
    pacer.start();
    f.p.rss = 90 * MiB; // the engine collected by itself
    clock.advance(1000);
    f.grow(0, 4 * MiB);
    clock.advance(1000);
    expect(f.p.collections).toBe(1);
    pacer.stop();
    f.grow(0, 40 * MiB);
    clock.advance(10_000);
    expect(f.p.collections).toBe(1);
  });
});
