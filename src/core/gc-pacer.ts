import type { Clock, TimerHandle } from "./clock.ts";

/**
 * Collects a relay process's garbage when its resident memory grew while it was nearly
 * idle, instead of when the JavaScript engine gets to it. Every relayed message leaves
 * garbage behind (the HTTP/2 DATA buffers, grpc-js's reassembled message): at 1 MB/s that
 * is too little allocation for the engine to collect often, and the benchmark's slow far
 * end (a full table into a collector reading 1 MB/s) saw its RSS swing by ~18 MiB of dead
 * buffers. A full collection with a full table's observer costs 5-9 ms (the prefix sets are
 * typed arrays the collector does not scan); while the process is busy (relaying fast,
 * `busyShare` of a core or more) the engine collects often by itself and the pacer stays
 * out of the way, and its collections never take more than `budgetShare` of the time: in
 * convergence profiles, collecting every second cost 8 % of the gateway's JavaScript
 * samples, and with only the busy test (a gateway waiting on BIRD between bursts looks
 * idle) 12 %.
 */
export interface GcPacerOptions {
  /** How often to look at the RSS and the CPU time. */
  intervalMs: number;
  /** Collect once the RSS exceeds its lowest value since the last collection by this much. */
  growthBytes: number;
  /** Above this share of one core used since the last look, the process counts as busy. */
  busyShare: number;
  /** Collections may take at most this share of the time (from what the last one cost). */
  budgetShare: number;
}

export const DEFAULT_GC_PACER: GcPacerOptions = {
  intervalMs: 500,
  growthBytes: 2 * 1024 * 1024,
  busyShare: 0.1,
  budgetShare: 0.01,
};

/** What the pacer reads and does; the gateway passes the process's own. */
export interface GcProcess {
  /** Resident set size, bytes. */
  rss(): number;
  /** CPU time used by the process so far (user + system), ms. */
  cpuMs(): number;
  /** A full, synchronous collection. */
  collect(): void;
}

export class GcPacer {
  private baseline: number;
  private lastCpu: number;
  private timer: TimerHandle | undefined;
  /** No collection before this time (clock ms): the budget. */
  private notBefore = Number.NEGATIVE_INFINITY;
  /** Collections this pacer started. */
  collections = 0;

  constructor(
    private readonly clock: Clock,
    private readonly proc: GcProcess,
    private readonly options: GcPacerOptions = DEFAULT_GC_PACER,
  ) {
    this.baseline = proc.rss();
    this.lastCpu = proc.cpuMs();
  }

  /**
   * One look, `elapsedMs` after the previous one: collect when the RSS grew by
   * `growthBytes`, the process was not busy and the budget allows; returns whether it
   * collected.
   */
  check(elapsedMs: number = this.options.intervalMs): boolean {
    const cpu = this.proc.cpuMs();
    const busy = cpu - this.lastCpu > this.options.busyShare * elapsedMs;
    this.lastCpu = cpu;
    const now = this.proc.rss();
    if (now < this.baseline) this.baseline = now;
    if (busy || now - this.baseline < this.options.growthBytes) return false;
    if (this.clock.now() < this.notBefore) return false;
    this.proc.collect();
    this.collections++;
    this.baseline = this.proc.rss();
    const after = this.proc.cpuMs();
    this.notBefore = this.clock.now() + (after - cpu) / this.options.budgetShare;
    this.lastCpu = after; // the collection's own CPU does not count as busy
    return true;
  }

  start(): void {
    if (this.timer) return;
    const loop = () => {
      this.check();
      this.timer = this.clock.schedule(this.options.intervalMs, loop);
    };
    this.timer = this.clock.schedule(this.options.intervalMs, loop);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

/** This (Bun) process: its RSS, its CPU time and a full, synchronous collection. */
export function ownProcess(): GcProcess {
  return {
    rss: () => process.memoryUsage.rss(),
    cpuMs: () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    },
    collect: () => Bun.gc(true),
  };
}
