import { describe, expect, test } from "bun:test";
import {
  BackgroundThreads,
  isBackgroundThread,
  type ThreadPort,
} from "../../src/core/background-threads.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { ManualClock } from "../support/manual-clock.ts";

/** A process whose threads the test sets; records which were lowered. */
function fakeProcess(names: Record<number, string>) {
  const threads = new Map<number, string>(Object.entries(names).map(([t, n]) => [Number(t), n]));
  const lowered: number[] = [];
  let refuse: Error | undefined;
  const port: ThreadPort = {
    pid: 100,
    threads: () => [...threads].map(([tid, name]) => ({ tid, name })),
    setIdle(tid) {
      if (refuse) throw refuse;
      if (!threads.has(tid)) return false;
      lowered.push(tid);
      return true;
    },
  };
  return {
    port,
    threads,
    lowered,
    refuseWith(error: Error) {
      refuse = error;
    },
  };
}

const RUNTIME = {
  100: "bun.exe",
  101: "Bun Pool 0",
  102: "mi-scavenger",
  103: "JITWorker",
  104: "JSCWarmUp",
  105: "HeapHelper",
  106: "Collector Thread",
  107: "HTTP Client",
};

describe("background threads", () => {
  test("only the JIT compilers, the warm-up thread and the scavenger are background threads", () => {
    expect(isBackgroundThread("JITWorker")).toBe(true);
    expect(isBackgroundThread("JSCWarmUp")).toBe(true);
    expect(isBackgroundThread("mi-scavenger")).toBe(true);
    // The event loop waits for the collector's threads and the I/O pool: never lowered.
    for (const name of ["bun.exe", "HeapHelper", "Collector Thread", "Bun Pool 0", "HTTP Client"])
      expect(isBackgroundThread(name)).toBe(false);
    expect(isBackgroundThread("JITWorker2")).toBe(false);
  });

  test("start lowers the background threads at once, never the main thread", () => {
    const p = fakeProcess({ ...RUNTIME, 100: "JITWorker" }); // even if the main thread had such a name
    const bg = new BackgroundThreads(new ManualClock(), () => p.port, silentLogger, 1000);
    bg.start();
    expect(bg.state).toBe("on");
    expect(p.lowered.sort()).toEqual([102, 103, 104]);
    expect(bg.loweredTotal).toBe(3);
  });

  test("threads started later are lowered at the next look; a lowered one is not set again", () => {
    const clock = new ManualClock();
    const p = fakeProcess(RUNTIME);
    const bg = new BackgroundThreads(clock, () => p.port, silentLogger, 1000);
    bg.start();
    p.threads.set(110, "JITWorker"); // JSC re-creates its helper threads as it needs them
    p.threads.delete(103);
    clock.advance(999);
    expect(p.lowered).not.toContain(110);
    clock.advance(1);
    expect(p.lowered.sort()).toEqual([102, 103, 104, 110]);
    clock.advance(5000);
    expect(p.lowered).toHaveLength(4);
    expect(bg.loweredTotal).toBe(4);
  });

  test("a tid reused by a new background thread is lowered again", () => {
    const clock = new ManualClock();
    const p = fakeProcess(RUNTIME);
    const bg = new BackgroundThreads(clock, () => p.port, silentLogger, 1000);
    bg.start();
    p.threads.delete(103);
    clock.advance(1000); // gone: forgotten
    p.threads.set(103, "JITWorker");
    clock.advance(1000);
    expect(p.lowered.filter((t) => t === 103)).toHaveLength(2);
  });

  test("a thread that ended before it was lowered is skipped", () => {
    const p = fakeProcess(RUNTIME);
    p.threads.delete(103); // listed, then gone before it is lowered
    const threads = p.port.threads;
    p.port.threads = () => [...threads(), { tid: 103, name: "JITWorker" }];
    const bg = new BackgroundThreads(new ManualClock(), () => p.port, silentLogger, 1000);
    bg.start();
    expect(bg.state).toBe("on");
    expect(bg.loweredTotal).toBe(2);
  });

  test("a refusal makes it unavailable, once: no more looks", () => {
    const clock = new ManualClock();
    const p = fakeProcess(RUNTIME);
    p.refuseWith(new BgpProxyError("unsupported", "sched_setscheduler: EPERM"));
    const lines: unknown[] = [];
    const log = {
      ...silentLogger,
      info: (msg: string, fields?: unknown) => lines.push([msg, fields]),
    };
    const bg = new BackgroundThreads(clock, () => p.port, log, 1000);
    bg.start();
    expect(bg.state).toBe("unavailable");
    expect(bg.reason).toBe("sched_setscheduler: EPERM");
    expect(lines).toHaveLength(1);
    clock.advance(10_000);
    expect(lines).toHaveLength(1);
    expect(p.lowered).toHaveLength(0);
  });

  test("no C library: unavailable, not a crash", () => {
    const bg = new BackgroundThreads(
      new ManualClock(),
      () => {
        throw new BgpProxyError("unsupported", "the native layer needs Linux, not darwin");
      },
      silentLogger,
    );
    bg.start();
    expect(bg.state).toBe("unavailable");
  });

  test("stop ends the looks", () => {
    const clock = new ManualClock();
    const p = fakeProcess(RUNTIME);
    const bg = new BackgroundThreads(clock, () => p.port, silentLogger, 1000);
    bg.start();
    bg.stop();
    expect(bg.state).toBe("off");
    p.threads.set(110, "JITWorker");
    clock.advance(10_000);
    expect(p.lowered).not.toContain(110);
  });
});
