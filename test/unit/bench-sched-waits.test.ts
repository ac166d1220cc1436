import { describe, expect, test } from "bun:test";
import {
  mainHolder,
  parseSchedScript,
  runQueueWaits,
  threadNames,
} from "../../scripts/bench/sched-waits.ts";

// `perf script -F comm,pid,tid,cpu,time,event,trace` lines: the gateway (pid 200) wakes the
// echo (pid 300) and its own JIT thread (tid 203) at once; both are placed on CPU 0, the JIT
// thread runs 3 ms first, then the echo. CPU 1 idles meanwhile.
const TRACE = `
         bun.exe   200/200   [001] 100.000000:       sched:sched_waking: comm=JITWorker pid=203 prio=120 target_cpu=000
         bun.exe   200/200   [001] 100.000010:       sched:sched_waking: comm=bun.exe pid=300 prio=120 target_cpu=000
         swapper     0/0     [000] 100.000020:       sched:sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=JITWorker next_pid=203 next_prio=120
         bun.exe   200/200   [001] 100.000100:       sched:sched_switch: prev_comm=bun.exe prev_pid=200 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
       JITWorker   200/203   [000] 100.003020:       sched:sched_switch: prev_comm=JITWorker prev_pid=203 prev_prio=120 prev_state=R ==> next_comm=bun.exe next_pid=300 next_prio=120
         bun.exe   300/300   [000] 100.003100:       sched:sched_waking: comm=bun.exe pid=200 prio=120 target_cpu=001
         swapper     0/0     [001] 100.003110:       sched:sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=bun.exe next_pid=200 next_prio=120
         bun.exe   300/300   [000] 100.003200:       sched:sched_switch: prev_comm=bun.exe prev_pid=300 prev_prio=120 prev_state=S ==> next_comm=JITWorker next_pid=203 next_prio=120
not a sched line
`;

describe("run-queue waits from a perf sched trace (scripts/bench/sched-waits.ts)", () => {
  const events = parseSchedScript(TRACE);

  test("parses every sched line, skips others", () => {
    expect(events).toHaveLength(8);
    expect(events[0]).toMatchObject({ comm: "bun.exe", pid: 200, tid: 200, cpu: 1, time: 100 });
    expect(events[0]?.event).toBe("sched_waking");
    expect(threadNames(events).get(203)).toEqual({ pid: 200, comm: "JITWorker" });
  });

  test("a watched thread's wait is blamed on what ran on its CPU meanwhile", () => {
    const waits = runQueueWaits(events, new Set([200, 300]), 0.5);
    expect(waits).toHaveLength(1); // the gateway's own 10 µs wait is under 0.5 ms
    const w = waits[0];
    expect(w?.tid).toBe(300);
    expect(w?.cpu).toBe(0);
    expect(((w?.end ?? 0) - (w?.start ?? 0)) * 1000).toBeCloseTo(3.01, 2);
    if (w) expect(mainHolder(w)).toBe(203);
  });

  test("below the threshold nothing is reported; a preempted thread waits until it runs again", () => {
    expect(runQueueWaits(events, new Set([200, 300]), 5)).toHaveLength(0);
    // The JIT thread: woken → ran (20 µs), preempted while runnable → ran again (180 µs).
    expect(
      runQueueWaits(events, new Set([203]), 0).map((w) => Math.round((w.end - w.start) * 1e6)),
    ).toEqual([20, 180]);
    expect(runQueueWaits(events, new Set([200]), 0).map((w) => w.tid)).toEqual([200]);
  });
});
