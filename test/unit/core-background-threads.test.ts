import { describe, expect, test } from "bun:test";
import {
  BackgroundThreads,
  type BackgroundThreadsOptions,
  isBackgroundThread,
  type ThreadPort,
} from "../../src/core/background-threads.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { ProcessBackgroundThreads } from "../../src/core/process-background-threads.ts";
import { ManualClock } from "../support/manual-clock.ts";

const OPTIONS: BackgroundThreadsOptions = {
  intervalMs: 500,
  starvedMs: 100,
  holdMs: 2_000,
  maxHoldMs: 8_000,
};

/** A process whose threads (name, run delay) the test sets; records each thread's policy. */
function fakeProcess(names: Record<number, string>, mayRaiseBack = true) {
  const threads = new Map<number, { name: string; delayNs: number }>(
    Object.entries(names).map(([t, name]) => [Number(t), { name, delayNs: 0 }]),
  );
  const idle = new Set<number>();
  const calls = { lower: 0, raise: 0 };
  let refuse: Error | undefined;
  const port: ThreadPort = {
    pid: 100,
    mayRaiseBack,
    threads: () => [...threads].map(([tid, t]) => ({ tid, name: t.name })),
    lower(tid) {
      if (refuse) throw refuse;
      if (!threads.has(tid)) return false;
      calls.lower++;
      idle.add(tid);
      return true;
    },
    raise(tid) {
      if (!threads.has(tid)) return false;
      calls.raise++;
      idle.delete(tid);
      return true;
    },
    runDelayNs: (tid) => threads.get(tid)?.delayNs,
  };
  return {
    port,
    threads,
    idle,
    calls,
    wait(tid: number, ms: number) {
      const t = threads.get(tid);
      if (t) t.delayNs += ms * 1e6;
    },
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

function started(p: ReturnType<typeof fakeProcess>, clock = new ManualClock()) {
  const bg = new BackgroundThreads(clock, () => p.port, silentLogger, OPTIONS);
  bg.start();
  return { bg, clock };
}

describe("background threads (src/core/background-threads.ts)", () => {
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
    const { bg } = started(p);
    expect(bg.state).toBe("lowered");
    expect([...p.idle].sort()).toEqual([102, 103, 104]);
  });

  test("threads started later are lowered at the next look; a lowered one is not set again", () => {
    const p = fakeProcess(RUNTIME);
    const { clock } = started(p);
    p.threads.set(110, { name: "JITWorker", delayNs: 0 }); // JSC re-creates its helper threads
    p.threads.delete(103);
    clock.advance(499);
    expect(p.idle.has(110)).toBe(false);
    clock.advance(1);
    expect(p.idle.has(110)).toBe(true);
    clock.advance(5000);
    expect(p.calls.lower).toBe(4);
  });

  test("lowered threads that wait too long for a CPU are raised back, and lowered again after the hold", () => {
    const p = fakeProcess(RUNTIME);
    const { bg, clock } = started(p);
    p.wait(103, 90); // 90 ms, and 90 ms more of another thread: none starved
    p.wait(102, 90);
    clock.advance(500);
    expect(bg.state).toBe("lowered");
    p.wait(103, 101); // one thread waited 101 ms of a 500 ms look: starved
    p.wait(104, 6);
    clock.advance(500);
    expect(bg.state).toBe("raised");
    expect(bg.starvations).toBe(1);
    expect(p.idle.size).toBe(0);
    clock.advance(1_500);
    expect(p.idle.size).toBe(0);
    clock.advance(500);
    expect(bg.state).toBe("lowered");
    expect([...p.idle].sort()).toEqual([102, 103, 104]);
    // Waits while raised do not count against the next lowered spell.
    clock.advance(500);
    expect(bg.state).toBe("lowered");
  });

  test("the hold doubles with each starvation in a row, up to the cap, and starts over after a calm spell", () => {
    const p = fakeProcess(RUNTIME);
    const { bg, clock } = started(p);
    const holds: number[] = [];
    for (let i = 0; i < 5; i++) {
      p.wait(103, 150);
      clock.advance(500); // starved at this look
      expect(bg.state).toBe("raised");
      const from = clock.now();
      while (bg.state === "raised") clock.advance(500);
      holds.push(clock.now() - from);
    }
    expect(holds).toEqual([2_000, 4_000, 8_000, 8_000, 8_000]);
    clock.advance(8_000); // lowered for maxHoldMs: calm again
    p.wait(103, 150);
    clock.advance(500);
    const from = clock.now();
    while (bg.state === "raised") clock.advance(500);
    expect(clock.now() - from).toBe(2_000);
    expect(bg.starvations).toBe(6);
  });

  test("without the right to raise threads back, nothing is lowered", () => {
    const p = fakeProcess(RUNTIME, false);
    const { bg, clock } = started(p);
    expect(bg.state).toBe("unavailable");
    expect(bg.reason).toContain("RLIMIT_NICE");
    clock.advance(10_000);
    expect(p.calls.lower).toBe(0);
  });

  test("a refusal makes it unavailable, logged once, no more looks", () => {
    const p = fakeProcess(RUNTIME);
    p.refuseWith(new BgpProxyError("unsupported", "sched_setscheduler: EPERM"));
    const lines: unknown[] = [];
    const log = { ...silentLogger, info: (msg: string) => lines.push(msg) };
    const clock = new ManualClock();
    const bg = new BackgroundThreads(clock, () => p.port, log, OPTIONS);
    bg.start();
    expect(bg.state).toBe("unavailable");
    expect(bg.reason).toBe("sched_setscheduler: EPERM");
    clock.advance(10_000);
    expect(lines).toEqual(["background threads keep their priority"]);
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

  test("stop raises the threads back and ends the looks", () => {
    const p = fakeProcess(RUNTIME);
    const { bg, clock } = started(p);
    bg.stop();
    expect(bg.state).toBe("off");
    expect(p.idle.size).toBe(0);
    p.threads.set(110, { name: "JITWorker", delayNs: 0 });
    clock.advance(10_000);
    expect(p.idle.size).toBe(0);
  });
});

describe("the process's background threads (src/core/process-background-threads.ts)", () => {
  test("roles in one process share one: it runs while any of them wants it", () => {
    const p = fakeProcess(RUNTIME);
    let opened = 0;
    const shared = new ProcessBackgroundThreads(new ManualClock(), () => {
      opened++;
      return p.port;
    });
    const stopAgent = shared.start(silentLogger);
    const stopGateway = shared.start(silentLogger);
    expect(opened).toBe(1);
    expect(p.idle.size).toBe(3);
    stopAgent();
    stopAgent(); // idempotent: does not count for the gateway
    expect(shared.running?.state).toBe("lowered");
    expect(p.idle.size).toBe(3);
    stopGateway();
    expect(shared.running).toBeUndefined();
    expect(p.idle.size).toBe(0);
  });
});
