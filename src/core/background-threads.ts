import type { Clock, TimerHandle } from "./clock.ts";
import { BgpProxyError } from "./errors.ts";
import type { Logger } from "./logger.ts";

/**
 * Puts the runtime's background threads of this process under SCHED_IDLE, so that they run
 * only on a CPU nothing else wants: the relay's event loop (and the router, the daemon, the
 * other relay process on the same machine) no longer waits behind them.
 *
 * Why (DEVELOPERS.md, "Data path: KEEPALIVE tail (session 5)"): on the 2-core machine a
 * KEEPALIVE crosses four processes. When the gateway relays a message it often wakes its
 * own JIT compiler thread too (JSC tiers code up as it runs); the compiler and the far end's
 * process are woken at the same moment, both land on the one idle CPU, and the far end
 * waits behind 1-6 ms of compilation (the kernel lets the running thread finish its slice,
 * and does not pull the waiting one to the other CPU when it falls idle a moment later).
 * The JIT threads of agent and gateway were what the CPU ran during ~70 of ~2,000 waits of
 * 0.5 ms or more per 2,000 pings. A SCHED_IDLE thread is preempted at once by any waking
 * normal thread, and a CPU running only SCHED_IDLE threads counts as idle when the kernel
 * places a waking thread.
 *
 * Only threads whose work nobody waits for are lowered: the JIT compilers (the event loop
 * goes on in the lower tier meanwhile), JSC's warm-up thread and mimalloc's page scavenger.
 * Not the garbage collector's threads (the event loop stops while they finish a cycle), not
 * Bun's I/O pool or HTTP client thread. JSC starts and ends its helper threads as it needs
 * them, so the threads are looked at again every `rescanMs`. Lowering needs no privilege;
 * raising a thread back does, so this only ever lowers, and `stop` leaves them lowered.
 *
 * States: off → on (start) → off (stop); on → unavailable when the system refuses (not
 * Linux, no C library, a sandbox forbidding sched_setscheduler): logged once, threads
 * keep their priority.
 */
export const BACKGROUND_THREAD_NAMES: readonly string[] = [
  "JITWorker",
  "JSCWarmUp",
  "mi-scavenger",
];

export const DEFAULT_RESCAN_MS = 2_000;

/** Whether a thread of this name does work nobody waits for (see above). */
export function isBackgroundThread(name: string): boolean {
  return BACKGROUND_THREAD_NAMES.includes(name);
}

/** What the yield reads and does; `ownThreadPort()` in native/ is this process's. */
export interface ThreadPort {
  /** This process's threads (tid and name); the main thread's tid is the process id. */
  threads(): { tid: number; name: string }[];
  /** The process id (the main thread, never lowered). */
  readonly pid: number;
  /**
   * Put thread `tid` under SCHED_IDLE. Returns false when the thread is gone; throws a
   * BgpProxyError when the system refuses.
   */
  setIdle(tid: number): boolean;
}

export type BackgroundThreadsState = "off" | "on" | "unavailable";

export class BackgroundThreads {
  private current: BackgroundThreadsState = "off";
  private timer: TimerHandle | undefined;
  /** Threads lowered, by tid (pruned to the living ones at each scan). */
  private readonly lowered = new Set<number>();
  /** Threads lowered since start (counting re-created ones again). */
  loweredTotal = 0;
  /** Why the system refused (state "unavailable"). */
  reason: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly port: () => ThreadPort,
    private readonly log: Logger,
    private readonly rescanMs: number = DEFAULT_RESCAN_MS,
  ) {}

  get state(): BackgroundThreadsState {
    return this.current;
  }

  /** Lower the background threads now and again every `rescanMs`. */
  start(): void {
    if (this.current !== "off") return;
    this.transition("on");
    this.tick();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.current === "on") this.transition("off");
  }

  /** One look at the threads; returns how many were lowered now. */
  scan(): number {
    if (this.current !== "on") return 0;
    let now = 0;
    try {
      const port = this.port();
      const alive = new Set<number>();
      for (const { tid, name } of port.threads()) {
        alive.add(tid);
        if (tid === port.pid || this.lowered.has(tid) || !isBackgroundThread(name)) continue;
        if (!port.setIdle(tid)) continue;
        this.lowered.add(tid);
        this.loweredTotal++;
        now++;
      }
      for (const tid of this.lowered) if (!alive.has(tid)) this.lowered.delete(tid);
    } catch (err) {
      this.reason = err instanceof BgpProxyError ? err.message : String(err);
      this.timer?.cancel();
      this.timer = undefined;
      this.transition("unavailable");
    }
    return now;
  }

  private tick(): void {
    this.scan();
    if (this.current === "on") this.timer = this.clock.schedule(this.rescanMs, () => this.tick());
  }

  private transition(next: BackgroundThreadsState): void {
    const previous = this.current;
    this.current = next;
    if (next === "unavailable") {
      this.log.info("background threads keep their priority", {
        transition: `${previous} -> ${next}`,
        reason: this.reason,
      });
    } else {
      this.log.debug("background threads", { transition: `${previous} -> ${next}` });
    }
  }
}
