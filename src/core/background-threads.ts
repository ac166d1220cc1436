import type { Clock, TimerHandle } from "./clock.ts";
import { BgpProxyError } from "./errors.ts";
import type { Logger } from "./logger.ts";

/**
 * Puts the runtime's background threads of this process under SCHED_IDLE while the machine
 * has CPU to spare, so that they run only on a CPU nothing else wants: the relay's event
 * loop, the router, the daemon and the other relay process no longer wait behind them.
 *
 * Why (DEVELOPERS.md, "Data path: KEEPALIVE tail (session 5)"): on the 2-core machine a
 * KEEPALIVE crosses four processes. When the gateway relays a message it often wakes its
 * own JIT compiler thread too (JSC tiers code up as it runs); the compiler and the far end's
 * process are woken together, both land on the one idle CPU, and the far end waits behind
 * 1-6 ms of compilation (the kernel lets the running thread finish its slice, and does not
 * pull the waiting one to the other CPU when that falls idle a moment later). The JIT
 * threads of agent and gateway held the CPU in 60-103 of the waits of 0.5 ms or more per
 * 2,000 pings; lowered, in 14-17 (shared machine, load 2-3). A SCHED_IDLE thread is preempted at once by any waking
 * normal thread, and a CPU running only SCHED_IDLE threads counts as idle when the kernel
 * places a waking thread.
 *
 * Only threads whose work the event loop does not wait for as a rule are lowered: the JIT
 * compilers (the code runs in the lower tier meanwhile), JSC's warm-up thread and mimalloc's
 * page scavenger; not the garbage collector's threads, Bun's I/O pool or its HTTP client.
 * "As a rule": a collection waits for a compilation in progress, so on a machine with no
 * CPU to spare a lowered compiler would stall the event loop (priority inversion). Hence
 * the guard: when a lowered thread waited more than `starvedMs` for a CPU within one look
 * (`intervalMs`), they are all raised back for a hold, then lowered again: `holdMs` at first,
 * doubling with each starvation in a row up to `maxHoldMs`, back to `holdMs` once the threads
 * stayed lowered for `maxHoldMs` (a start-up's compile burst costs a few seconds, a machine
 * that stays busy keeps them raised most of the time) (measured: under
 * load 2-3 from other jobs a lowered thread waited at most 14-180 ms of a 500 ms look; at
 * normal priority under load 4-5 up to 117 ms). Raising back needs CAP_SYS_NICE or RLIMIT_NICE ≥ 20 (systemd `LimitNICE=+0`); without either nothing
 * is lowered. JSC starts and ends its helper threads as it needs them, so each look also
 * lowers new ones.
 *
 * States: off → lowered (start) ⇄ raised (starved / hold over) → off (stop, threads raised);
 * → unavailable when raising back is not permitted or the system refuses (not Linux, a
 * sandbox): logged once, threads keep their priority.
 */
export const BACKGROUND_THREAD_NAMES: readonly string[] = [
  "JITWorker",
  "JSCWarmUp",
  "mi-scavenger",
];

export interface BackgroundThreadsOptions {
  /** How often to look at the threads. */
  intervalMs: number;
  /** A lowered thread that waited longer than this for a CPU within one look was starved. */
  starvedMs: number;
  /** After starving, how long the threads stay raised before they are lowered again. */
  holdMs: number;
  /** The hold doubles with each starvation in a row, up to this. */
  maxHoldMs: number;
}

export const DEFAULT_BACKGROUND_THREADS: BackgroundThreadsOptions = {
  intervalMs: 500,
  starvedMs: 100,
  holdMs: 2_000,
  maxHoldMs: 60_000,
};

/** Whether a thread of this name does work the event loop does not wait for (see above). */
export function isBackgroundThread(name: string): boolean {
  return BACKGROUND_THREAD_NAMES.includes(name);
}

/** What it reads and does; `ownThreadPort()` in native/ is this process's. */
export interface ThreadPort {
  /** The process id (the main thread, never lowered). */
  readonly pid: number;
  /** Whether a lowered thread may be raised back (CAP_SYS_NICE or RLIMIT_NICE ≥ 20). */
  readonly mayRaiseBack: boolean;
  /** This process's threads (tid and name). */
  threads(): { tid: number; name: string }[];
  /** SCHED_IDLE; false when the thread is gone; throws a BgpProxyError when refused. */
  lower(tid: number): boolean;
  /** Back to SCHED_OTHER; false when the thread is gone; throws when refused. */
  raise(tid: number): boolean;
  /** Nanoseconds the thread waited for a CPU so far; undefined when it is gone. */
  runDelayNs(tid: number): number | undefined;
}

export type BackgroundThreadsState = "off" | "lowered" | "raised" | "unavailable";

export class BackgroundThreads {
  private current: BackgroundThreadsState = "off";
  private timer: TimerHandle | undefined;
  private port: ThreadPort | undefined;
  /** Lowered threads and their run delay at the last look. */
  private readonly lowered = new Map<number, number>();
  private raisedUntil = 0;
  /** The next hold, and when the threads were last lowered. */
  private nextHoldMs: number;
  private loweredSince = 0;
  /** Times the lowered threads starved and were raised back. */
  starvations = 0;
  /** Why it is unavailable. */
  reason: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly openPort: () => ThreadPort,
    private readonly log: Logger,
    private readonly options: BackgroundThreadsOptions = DEFAULT_BACKGROUND_THREADS,
  ) {
    this.nextHoldMs = options.holdMs;
  }

  get state(): BackgroundThreadsState {
    return this.current;
  }

  /** Threads lowered right now. */
  get loweredThreads(): number {
    return this.lowered.size;
  }

  start(): void {
    if (this.current !== "off") return;
    this.guard(() => {
      const port = this.openPort();
      if (!port.mayRaiseBack)
        throw new BgpProxyError(
          "unsupported",
          "lowered threads could not be raised back if the CPU ran short (needs CAP_SYS_NICE or RLIMIT_NICE >= 20)",
        );
      this.port = port;
      this.transition("lowered");
      this.loweredSince = this.clock.now();
      this.look();
    });
    if (this.running()) this.schedule();
  }

  /** Stop looking; lowered threads are raised back. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.current !== "lowered" && this.current !== "raised") return;
    this.guard(() => this.raiseAll());
    if (this.running()) this.transition("off");
  }

  /** One look (the timer's); exposed for tests. */
  look(): void {
    this.guard(() => {
      const port = this.port as ThreadPort;
      if (this.current === "raised") {
        if (this.clock.now() < this.raisedUntil) return;
        this.transition("lowered");
        this.loweredSince = this.clock.now();
      }
      if (this.current !== "lowered") return;
      let waitedNs = 0;
      for (const [tid, before] of this.lowered) {
        const now = port.runDelayNs(tid);
        if (now === undefined) {
          this.lowered.delete(tid);
          continue;
        }
        waitedNs = Math.max(waitedNs, now - before);
        this.lowered.set(tid, now);
      }
      if (waitedNs > this.options.starvedMs * 1e6) {
        this.starvations++;
        this.raiseAll();
        const now = this.clock.now();
        if (now - this.loweredSince >= this.options.maxHoldMs)
          this.nextHoldMs = this.options.holdMs;
        this.raisedUntil = now + this.nextHoldMs;
        this.nextHoldMs = Math.min(this.nextHoldMs * 2, this.options.maxHoldMs);
        this.transition("raised", {
          waited_ms: Math.round(waitedNs / 1e6),
          hold_ms: this.raisedUntil - now,
        });
        return;
      }
      for (const { tid, name } of port.threads()) {
        if (tid === port.pid || this.lowered.has(tid) || !isBackgroundThread(name)) continue;
        const delay = port.runDelayNs(tid);
        if (delay === undefined || !port.lower(tid)) continue;
        this.lowered.set(tid, delay);
      }
    });
  }

  /** Lowered or raised (guard() may have made it unavailable meanwhile). */
  private running(): boolean {
    const state: BackgroundThreadsState = this.current;
    return state === "lowered" || state === "raised";
  }

  private raiseAll(): void {
    const port = this.port as ThreadPort;
    for (const tid of this.lowered.keys()) port.raise(tid);
    this.lowered.clear();
  }

  private schedule(): void {
    this.timer = this.clock.schedule(this.options.intervalMs, () => {
      this.look();
      if (this.running()) this.schedule();
    });
  }

  /** Runs `fn`; a refusal of the system makes it unavailable (logged once). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.reason = err instanceof Error ? err.message : String(err);
      this.timer?.cancel();
      this.timer = undefined;
      this.lowered.clear();
      this.transition("unavailable");
    }
  }

  private transition(next: BackgroundThreadsState, fields: Record<string, unknown> = {}): void {
    const previous = this.current;
    this.current = next;
    const line = { transition: `${previous} -> ${next}`, ...fields };
    if (next === "unavailable")
      this.log.info("background threads keep their priority", { ...line, reason: this.reason });
    else this.log.debug("background threads", line);
  }
}
