/**
 * The convergence scenario's evidence readers (scripts/bench/tcp-counters.ts,
 * thread-cpu.ts, proc-stats.ts readIoCounts): the /proc tables parsed by name, thread CPU
 * grouped by what the thread is, exited threads' CPU kept, and this process's own counts.
 */
import { describe, expect, test } from "bun:test";
import { summarizeTrace } from "../../scripts/bench/pipeline-trace.ts";
import { ioCountsDelta, readIoCounts } from "../../scripts/bench/proc-stats.ts";
import { counterDelta, parseProcNetTables } from "../../scripts/bench/tcp-counters.ts";
import {
  readThreads,
  type ThreadReading,
  threadCpuDelta,
  threadGroup,
} from "../../scripts/bench/thread-cpu.ts";

const SNMP_AND_NETSTAT = [
  "Ip: Forwarding DefaultTTL",
  "Ip: 1 64",
  "Tcp: RtoAlgorithm ActiveOpens InSegs OutSegs",
  "Tcp: 1 3 1500 2000",
  "TcpExt: SyncookiesSent PruneCalled TCPToZeroWindowAdv",
  "TcpExt: 0 2 317",
  "IpExt: InNoRoutes",
  "IpExt: 0",
].join("\n");

describe("TCP counters", () => {
  test("reads the Tcp and TcpExt tables by name, not the others", () => {
    const c = parseProcNetTables(SNMP_AND_NETSTAT, ["Tcp", "TcpExt"]);
    expect(c).toEqual({
      "Tcp.RtoAlgorithm": 1,
      "Tcp.ActiveOpens": 3,
      "Tcp.InSegs": 1500,
      "Tcp.OutSegs": 2000,
      "TcpExt.SyncookiesSent": 0,
      "TcpExt.PruneCalled": 2,
      "TcpExt.TCPToZeroWindowAdv": 317,
    });
  });

  test("a delta is after minus before, counters new since then counted whole", () => {
    expect(
      counterDelta({ "Tcp.InSegs": 10 }, { "Tcp.InSegs": 25, "TcpExt.PruneCalled": 1 }),
    ).toEqual({ "Tcp.InSegs": 15, "TcpExt.PruneCalled": 1 });
  });
});

/** A reading of a process whose threads are [tid, comm, cpu seconds]. */
function reading(total: number, threads: [number, string, number][]): ThreadReading {
  return { total, threads: new Map(threads.map(([tid, comm, cpu]) => [tid, { comm, cpu }])) };
}

describe("thread CPU", () => {
  test("groups threads by what they are; the main thread is the one whose tid is the pid", () => {
    expect(threadGroup(10, 10, "bun")).toBe("main");
    expect(threadGroup(10, 11, "JITWorker")).toBe("jit");
    expect(threadGroup(10, 12, "HeapHelper")).toBe("gc");
    expect(threadGroup(10, 13, "mi-scavenger")).toBe("mimalloc");
    expect(threadGroup(10, 14, "Bun Pool 0")).toBe("other");
  });

  test("a thread gone since the first reading leaves its CPU in `other`", () => {
    const before = reading(1, [
      [10, "bun", 0.5],
      [11, "JITWorker", 0.2],
      [12, "Bun Pool 0", 0.3],
    ]);
    const after = reading(2.5, [
      [10, "bun", 1.2],
      [11, "JITWorker", 0.6],
      [13, "HeapHelper", 0.1],
    ]);
    const d = threadCpuDelta(10, before, after);
    expect(d.main).toBeCloseTo(0.7, 9);
    expect(d.jit).toBeCloseTo(0.4, 9);
    expect(d.gc).toBeCloseTo(0.1, 9);
    expect(d.mimalloc).toBe(0);
    // 1.5 s in all, 1.2 s in live threads: the rest went with threads that exited.
    expect(d.other).toBeCloseTo(0.3, 9);
  });

  test("reads this process's threads from /proc", () => {
    const until = performance.now() + 50;
    while (performance.now() < until) {
      // at least a few clock ticks of CPU
    }
    const r = readThreads(process.pid);
    expect(r).toBeDefined();
    expect(r?.threads.get(process.pid)).toBeDefined();
    expect(r?.total).toBeGreaterThan(0);
    expect(readThreads(0x7ffffffe)).toBeUndefined();
  });
});

describe("scheduling and read/write counts", () => {
  test("this process's counts grow with what it does", () => {
    const a = readIoCounts(process.pid);
    const until = performance.now() + 50;
    while (performance.now() < until) {
      // CPU time to see
    }
    Bun.spawnSync(["true"]);
    const b = readIoCounts(process.pid);
    expect(a && b).toBeTruthy();
    if (!a || !b) return;
    // Every field read (a mistyped /proc key would be NaN).
    for (const c of [a, b]) for (const v of Object.values(c)) expect(Number.isFinite(v)).toBe(true);
    expect(b.onCpu).toBeGreaterThan(a.onCpu);
    expect(b.syscr + b.syscw).toBeGreaterThanOrEqual(a.syscr + a.syscw);
    expect(readIoCounts(0x7ffffffe)).toBeUndefined();
  });

  test("a round's counts: after minus before, every field; NaN when the process was gone", () => {
    const before = {
      onCpu: 1.5,
      waiting: 0.25,
      syscr: 10,
      syscw: 20,
      voluntary: 3,
      involuntary: 4,
    };
    const after = { onCpu: 2, waiting: 1, syscr: 15, syscw: 27, voluntary: 9, involuntary: 5 };
    expect(ioCountsDelta(before, after)).toEqual({
      onCpu: 0.5,
      waiting: 0.75,
      syscr: 5,
      syscw: 7,
      voluntary: 6,
      involuntary: 1,
    });
    const gone = ioCountsDelta(before, undefined);
    expect(Object.keys(gone)).toEqual(Object.keys(before));
    for (const v of Object.values(gone)) expect(v).toBeNaN();
  });
});

describe("pipeline trace", () => {
  test("when each side was done and what the path held then", () => {
    const samples = [
      { t: 0, written: 1000, read: 500 },
      { t: 1, written: 5000, read: 1500 },
      { t: 2, written: 9000, read: 3500 },
      { t: 3, written: 11000, read: 6500 },
      { t: 4, written: 11000, read: 9500 },
      { t: 5, written: 11000, read: 10500 },
    ];
    expect(summarizeTrace(samples)).toEqual({
      routerDone: 3,
      collectorDone: 5,
      heldAtRouterDone: 4000,
      heldMax: 5000,
    });
  });
});
