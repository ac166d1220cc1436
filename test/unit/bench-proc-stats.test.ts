/**
 * The benchmark's CPU reading of a gateway that is restarted (scripts/bench/proc-stats.ts,
 * used by relay-paths.ts): it follows the current process and keeps what earlier ones used.
 */
import { describe, expect, test } from "bun:test";
import { type ProcReading, readProc, SuccessiveCpu } from "../../scripts/bench/proc-stats.ts";

const reading = (cpu: number, sys: number): ProcReading => ({
  cpu,
  sys,
  childCpu: 0,
  rss: 0,
  hwm: 0,
  rssFile: 0,
});

describe("SuccessiveCpu", () => {
  test("follows the current pid and adds what the earlier processes had used", () => {
    const procs = new Map<number, ProcReading>([[100, reading(2, 0.5)]]);
    let pid = 100;
    const cpu = new SuccessiveCpu(
      () => pid,
      (p) => procs.get(p),
    );
    expect(cpu.read()).toEqual({ cpu: 2, sys: 0.5 });
    procs.set(100, reading(3, 1));
    expect(cpu.read()).toEqual({ cpu: 3, sys: 1 });
    // Killed: gone from /proc; its last reading stays counted.
    procs.delete(100);
    expect(cpu.read()).toEqual({ cpu: 3, sys: 1 });
    // The new gateway: its CPU on top of the old one's, not instead of it.
    pid = 200;
    procs.set(200, reading(0.25, 0.25));
    expect(cpu.read()).toEqual({ cpu: 3.25, sys: 1.25 });
    procs.set(200, reading(1, 0.5));
    expect(cpu.read()).toEqual({ cpu: 4, sys: 1.5 });
  });

  test("nothing ever read: NaN, not 0", () => {
    const cpu = new SuccessiveCpu(
      () => 1,
      () => undefined,
    );
    expect(Number.isNaN(cpu.read().cpu)).toBe(true);
  });

  test("reads this process from /proc by default", () => {
    const own = new SuccessiveCpu(() => process.pid).read();
    expect(Number.isFinite(own.cpu)).toBe(true);
    expect(own.cpu).toBeCloseTo(readProc(process.pid)?.cpu ?? -1, 1);
  });
});

describe("readProc", () => {
  test("splits off the file-backed part of this process's resident memory", () => {
    const own = readProc(process.pid);
    // The bun executable's own pages are file-backed and mapped in by now.
    expect(own?.rssFile).toBeGreaterThan(0);
    expect(own?.rssFile).toBeLessThan(own?.rss ?? 0);
  });
});
