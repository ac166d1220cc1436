import { readdirSync, readFileSync } from "node:fs";
import { SyscallError } from "./errno.ts";
import { lastErrno, libc } from "./libc.ts";

/**
 * The threads of this process and their CPU scheduling policy (Linux). Lowering a thread to
 * SCHED_IDLE needs no privilege; raising it back does (CAP_SYS_NICE, or an RLIMIT_NICE of
 * 20), so src/core/background-threads.ts only ever lowers.
 */
export const SCHED_OTHER = 0;
export const SCHED_IDLE = 5;

export interface ThreadInfo {
  tid: number;
  /** The thread's name (/proc/self/task/TID/comm, at most 15 bytes). */
  name: string;
}

/** This process's threads, from /proc/self/task; threads gone meanwhile are left out. */
export function ownThreads(): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const entry of readdirSync("/proc/self/task")) {
    const tid = Number(entry);
    if (!Number.isInteger(tid)) continue;
    try {
      out.push({ tid, name: readFileSync(`/proc/self/task/${entry}/comm`, "utf8").trim() });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Put thread `tid` of this process under SCHED_IDLE. Throws a SyscallError. */
export function setThreadIdle(tid: number): void {
  if (libc.schedSetScheduler(tid, SCHED_IDLE) < 0)
    throw new SyscallError(`sched_setscheduler(${tid}, SCHED_IDLE)`, lastErrno(), "unsupported");
}

/** Thread `tid`'s scheduling policy (SCHED_OTHER, SCHED_IDLE, ...). Throws a SyscallError. */
export function threadPolicy(tid: number): number {
  const policy = libc.schedGetScheduler(tid);
  if (policy < 0) throw new SyscallError(`sched_getscheduler(${tid})`, lastErrno());
  return policy;
}

/**
 * This process as src/core/background-threads.ts sees it. Throws a BgpProxyError of kind
 * "unsupported" when the C library cannot be loaded (not Linux, no bun:ffi).
 */
export function ownThreadPort(): {
  pid: number;
  threads(): ThreadInfo[];
  setIdle(tid: number): boolean;
} {
  libc.getpid(); // loads the C library now: an error here means the feature is unavailable
  return {
    pid: process.pid,
    threads: ownThreads,
    setIdle(tid) {
      try {
        setThreadIdle(tid);
        return true;
      } catch (err) {
        if (err instanceof SyscallError && err.is("ESRCH")) return false; // the thread ended
        throw err;
      }
    },
  };
}
