/**
 * Where a Bun process's CPU goes, by thread, read from /proc/PID/task/TID/stat: the main
 * JavaScript thread, JavaScriptCore's compiler threads (`JITWorker`), its collector's helper
 * threads (`HeapHelper`), mimalloc's page returner (`mi-scavenger`) and the rest. A thread
 * that exited between two readings takes its CPU with it from /proc/PID/task, so `other`
 * also holds the process's CPU that no live thread accounts for.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseStat } from "./proc-stats.ts";

type ThreadGroup = "main" | "jit" | "gc" | "mimalloc" | "other";
export type ThreadCpu = Record<ThreadGroup, number>;

/** Thread CPU seconds by tid, plus the process's own total (utime + stime, seconds). */
export interface ThreadReading {
  total: number;
  threads: Map<number, { comm: string; cpu: number }>;
}

/** undefined when the process is gone. */
export function readThreads(pid: number): ThreadReading | undefined {
  try {
    const total = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).cpu;
    const threads = new Map<number, { comm: string; cpu: number }>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(Number(tid), parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")));
      } catch {
        // the thread exited meanwhile
      }
    }
    return { total, threads };
  } catch {
    return undefined;
  }
}

export function threadGroup(pid: number, tid: number, comm: string): ThreadGroup {
  if (tid === pid) return "main";
  if (comm.startsWith("JITWorker")) return "jit";
  if (comm.startsWith("HeapHelper") || comm.startsWith("Heap Helper")) return "gc";
  if (comm.startsWith("mi-")) return "mimalloc";
  return "other";
}

/** CPU seconds per group between two readings of the same process. */
export function threadCpuDelta(
  pid: number,
  before: ThreadReading,
  after: ThreadReading,
): ThreadCpu {
  const out: ThreadCpu = { main: 0, jit: 0, gc: 0, mimalloc: 0, other: 0 };
  let live = 0;
  for (const [tid, t] of after.threads) {
    const d = t.cpu - (before.threads.get(tid)?.cpu ?? 0);
    out[threadGroup(pid, tid, t.comm)] += d;
    live += d;
  }
  out.other += Math.max(0, after.total - before.total - live);
  return out;
}
