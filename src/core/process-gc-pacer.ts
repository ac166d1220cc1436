import { backgroundClock, type Clock } from "./clock.ts";
import { distinctGcBurstRules } from "./gc-burst.ts";
import { GcPacer, type GcPacerOptions, type GcProcess, ownProcess } from "./gc-pacer.ts";
import { ProcessRoles } from "./process-roles.ts";

/**
 * The process's one GC pacer. Garbage collection is per process, so the roles running in it
 * (the agent, the gateway, both in standalone mode and in-process tests) share one pacer
 * (process-roles.ts): it runs while any role wants it, with the options of all of them
 * combined (`combinedGcPacer`): the agent's full collections in its bursts and the gateway's
 * young ones every 2 MiB each run as their role asked, also when both roles share the process.
 */
export class ProcessGcPacer {
  private readonly roles = new ProcessRoles<GcPacerOptions>(() => this.update());
  private pacer: GcPacer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly proc: () => GcProcess,
  ) {}

  /** A role wants collections paced with `options`; returns its stop (idempotent). */
  start(options: GcPacerOptions): () => void {
    return this.roles.join(options);
  }

  /** The running pacer (undefined when no role wants one). */
  get running(): GcPacer | undefined {
    return this.pacer;
  }

  /** The options the running pacer uses, if any. */
  get options(): GcPacerOptions | undefined {
    const wants = this.roles.wants;
    return wants.length === 0 ? undefined : combinedGcPacer(wants);
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
 * The options of the roles in one process (pure). The RSS look collects at least as often as
 * each would: the shortest interval and growth threshold, the highest busy share (busy less
 * often) and budget. The burst rules are not merged field by field (the agent's full
 * collections in its window and the gateway's young ones every 2 MiB would make full ones
 * every MiB, forever): each distinct rule runs side by side with its own counters and budget.
 */
export function combinedGcPacer(all: readonly GcPacerOptions[]): GcPacerOptions {
  const [first, ...rest] = all;
  if (first === undefined) throw new RangeError("combinedGcPacer: no options");
  return rest.reduce(
    (a, b) => ({
      intervalMs: Math.min(a.intervalMs, b.intervalMs),
      growthBytes: Math.min(a.growthBytes, b.growthBytes),
      busyShare: Math.max(a.busyShare, b.busyShare),
      budgetShare: Math.max(a.budgetShare, b.budgetShare),
      bursts: distinctGcBurstRules([...a.bursts, ...b.bursts]),
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
