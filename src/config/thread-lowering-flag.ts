/**
 * The operator's off switch for the lowering of the runtime's background threads
 * (src/core/background-threads.ts: JIT compilers, JSC's warm-up thread and mimalloc's
 * scavenger under SCHED_IDLE while the CPU has room), shared by agent, gateway and
 * standalone: `--disable-thread-lowering` or BGPROXY_DISABLE_THREAD_LOWERING.
 */
import type { FlagSpec, Settings } from "./flags.ts";

export const DISABLE_THREAD_LOWERING_FLAG: FlagSpec = {
  name: "disable-thread-lowering",
  kind: "bool",
  env: "BGPROXY_DISABLE_THREAD_LOWERING",
  defaultText: "false",
  help: "Keep the runtime's background threads (JIT compilers) at normal priority, not SCHED_IDLE",
};

/** Whether the background threads are lowered (the default) or left alone (the flag, or its env var). */
export function parseLowerBackgroundThreads(s: Settings): boolean {
  return !s.bool(DISABLE_THREAD_LOWERING_FLAG.name, false);
}
