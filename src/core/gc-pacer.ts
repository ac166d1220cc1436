import type { Clock, TimerHandle } from "./clock.ts";

/**
 * Collects a relay process's garbage when its resident memory grew, instead of when the
 * JavaScript engine gets to it. Every relayed message leaves garbage behind (the HTTP/2
 * DATA buffers, grpc-js's reassembled message): at 1 MB/s that is too little allocation
 * to trigger the engine's own collections often, and the benchmark's slow far end (a
 * full table into a collector reading 1 MB/s) saw ~20 MiB of dead buffers held. A full
 * collection with a full table's observer costs 5-9 ms (measured; the prefix sets are
 * typed arrays the collector does not scan), so checking once a second and collecting
 * only after `growthBytes` of growth costs a convergence run at most a few collections.
 */
export interface GcPacerOptions {
  /** How often to look at the RSS. */
  intervalMs: number;
  /** Collect once the RSS exceeds its lowest value since the last collection by this much. */
  growthBytes: number;
}

export const DEFAULT_GC_PACER: GcPacerOptions = { intervalMs: 1_000, growthBytes: 4 * 1024 * 1024 };

export class GcPacer {
  private baseline: number;
  private timer: TimerHandle | undefined;
  /** Collections this pacer started. */
  collections = 0;

  constructor(
    private readonly clock: Clock,
    /** The process's resident set size, bytes. */
    private readonly rss: () => number,
    /** A full, synchronous collection. */
    private readonly collect: () => void,
    private readonly options: GcPacerOptions = DEFAULT_GC_PACER,
  ) {
    this.baseline = rss();
  }

  /** One look: collect when the RSS grew by `growthBytes`; returns whether it collected. */
  check(): boolean {
    const now = this.rss();
    if (now - this.baseline < this.options.growthBytes) {
      if (now < this.baseline) this.baseline = now;
      return false;
    }
    this.collect();
    this.collections++;
    this.baseline = this.rss();
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
