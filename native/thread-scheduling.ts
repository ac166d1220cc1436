import { readdirSync, readFileSync } from "node:fs";
import { SyscallError } from "./errno.ts";
import { lastErrno, libc } from "./libc.ts";

/**
 * The threads of this process and their CPU scheduling policy (Linux). Lowering a thread to
 * SCHED_IDLE needs no privilege; raising it back to SCHED_OTHER does (CAP_SYS_NICE, or an
 * RLIMIT_NICE of at least 20: systemd's `LimitNICE=+0`), see `mayRaiseBack`.
 */
export const SCHED_OTHER = 0;
export const SCHED_IDLE = 5;
/** Bit of CAP_SYS_NICE in /proc/self/status's CapEff. */
const CAP_SYS_NICE = 23n;

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

/** Set thread `tid`'s policy (its nice value stays). Throws a SyscallError. */
export function setThreadPolicy(tid: number, policy: number): void {
  if (libc.schedSetScheduler(tid, policy) < 0)
    throw new SyscallError(`sched_setscheduler(${tid}, ${policy})`, lastErrno(), "unsupported");
}

/** Thread `tid`'s scheduling policy (SCHED_OTHER, SCHED_IDLE, ...). Throws a SyscallError. */
export function threadPolicy(tid: number): number {
  const policy = libc.schedGetScheduler(tid);
  if (policy < 0) throw new SyscallError(`sched_getscheduler(${tid})`, lastErrno());
  return policy;
}

/**
 * Nanoseconds thread `tid` has spent runnable but waiting for a CPU (the second field of
 * /proc/self/task/TID/schedstat); undefined when the thread is gone.
 */
export function threadRunDelayNs(tid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ");
    const delay = Number(fields[1]);
    return Number.isFinite(delay) ? delay : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a thread lowered to SCHED_IDLE may be raised back (pure: the texts of
 * /proc/self/status and /proc/self/limits): CAP_SYS_NICE in the effective set, or a soft
 * RLIMIT_NICE of at least 20 (nice 0 allowed).
 */
export function mayRaiseBack(status: string, limits: string): boolean {
  const cap = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(status)?.[1];
  if (cap !== undefined && (BigInt(`0x${cap}`) >> CAP_SYS_NICE) & 1n) return true;
  const soft = /^Max nice priority\s+(\S+)/m.exec(limits)?.[1];
  return soft === "unlimited" || Number(soft) >= 20;
}

/**
 * This process as src/core/background-threads.ts sees it. Throws a BgpProxyError of kind
 * "unsupported" when the C library cannot be loaded (not Linux, no bun:ffi).
 */
export function ownThreadPort(): {
  pid: number;
  mayRaiseBack: boolean;
  threads(): ThreadInfo[];
  lower(tid: number): boolean;
  raise(tid: number): boolean;
  runDelayNs(tid: number): number | undefined;
} {
  libc.getpid(); // loads the C library now: an error here means the feature is unavailable
  const set = (tid: number, policy: number): boolean => {
    try {
      setThreadPolicy(tid, policy);
      return true;
    } catch (err) {
      if (err instanceof SyscallError && err.is("ESRCH")) return false; // the thread ended
      throw err;
    }
  };
  return {
    pid: process.pid,
    mayRaiseBack: mayRaiseBack(
      readFileSync("/proc/self/status", "utf8"),
      readFileSync("/proc/self/limits", "utf8"),
    ),
    threads: ownThreads,
    lower: (tid) => set(tid, SCHED_IDLE),
    raise: (tid) => set(tid, SCHED_OTHER),
    runDelayNs: threadRunDelayNs,
  };
}
