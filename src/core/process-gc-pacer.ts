import { backgroundClock, type Clock } from "./clock.ts";
import { GcPacer, type GcPacerOptions, type GcProcess, ownProcess } from "./gc-pacer.ts";

/**
 * The process's one GC pacer. Garbage collection is per process, so the roles running in it
 * (the agent, the gateway, both in standalone mode and in-process tests) share one pacer:
 * it runs while any role wants it (`start` counts them; each gets its own stop) with the
 * strictest options any of them asked for, so the gateway's young collections happen even
 * when an agent started after it in the same process.
 */
export class ProcessGcPacer {
  private readonly wanted = new Map<number, GcPacerOptions>();
  private nextRole = 1;
  private pacer: GcPacer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly proc: () => GcProcess,
  ) {}

  /** A role wants collections paced with `options`; returns its stop (idempotent). */
  start(options: GcPacerOptions): () => void {
    const role = this.nextRole++;
    this.wanted.set(role, options);
    this.update();
    return () => {
      if (this.wanted.delete(role)) this.update();
    };
  }

  /** The running pacer (undefined when no role wants one). */
  get running(): GcPacer | undefined {
    return this.pacer;
  }

  /** The options the running pacer uses, if any. */
  get options(): GcPacerOptions | undefined {
    return this.wanted.size === 0 ? undefined : strictestGcPacer([...this.wanted.values()]);
  }

  /** Relayed data allocated: counts towards the running pacer's burst collections. */
  allocated(bytes: number): void {
    this.pacer?.allocated(bytes);
  }

  private update(): void {
    const options = this.options;
    if (options === undefined) {
      this.pacer?.stop();
      this.pacer = undefined;
    } else if (this.pacer === undefined) {
      this.pacer = new GcPacer(this.clock, this.proc(), options);
      this.pacer.start();
    } else this.pacer.reconfigure(options);
  }
}

/**
 * The options that collect at least as often as each of `all` would (pure): the shortest
 * interval and growth threshold, the highest busy share (busy less often) and budgets; burst
 * collections if any asks for them, at the smallest step and growth, in the widest window,
 * full ones if any asks for full ones (agent and gateway in one process: full collections
 * after every MiB relayed, within 20 % of the time).
 */
export function strictestGcPacer(all: readonly GcPacerOptions[]): GcPacerOptions {
  const [first, ...rest] = all;
  if (first === undefined) throw new RangeError("strictestGcPacer: no options");
  return rest.reduce(
    (a, b) => ({
      intervalMs: Math.min(a.intervalMs, b.intervalMs),
      growthBytes: Math.min(a.growthBytes, b.growthBytes),
      busyShare: Math.max(a.busyShare, b.busyShare),
      budgetShare: Math.max(a.budgetShare, b.budgetShare),
      burstEveryBytes: Math.min(a.burstEveryBytes, b.burstEveryBytes),
      burstCollection:
        a.burstCollection === "full" || b.burstCollection === "full" ? "full" : "young",
      burstGrowthBytes: Math.min(a.burstGrowthBytes, b.burstGrowthBytes),
      burstWindowBytes: Math.max(a.burstWindowBytes, b.burstWindowBytes),
      burstQuietMs: Math.min(a.burstQuietMs, b.burstQuietMs),
      burstBudgetShare: Math.max(a.burstBudgetShare, b.burstBudgetShare),
    }),
    first,
  );
}

/** This process's pacer: timers that do not keep it alive, its own RSS, CPU time and GC. */
export const processGcPacer = new ProcessGcPacer(backgroundClock, ownProcess);

/**
 * `bytes` of short-lived buffers were just allocated for relayed data (a Data message
 * encoded or received): counts towards the process pacer's burst collections.
 */
export function noteRelayAllocation(bytes: number): void {
  processGcPacer.allocated(bytes);
}
