import { backgroundClock, type Clock } from "./clock.ts";
import { distinctGcBurstRules } from "./gc-burst.ts";
import { GcPacer, type GcPacerOptions, type GcProcess, ownProcess } from "./gc-pacer.ts";
import { ProcessRoles } from "./process-roles.ts";

/**
 * Which end of a Data call noted an allocation: the agent (the gRPC client: it encodes what
 * goes up and decodes what comes down) or the gateway (the server: it decodes what comes up
 * and encodes what goes down).
 */
export type RelayRole = "agent" | "gateway";

/** What one role of the process asked for. */
interface RoleWant {
  options: GcPacerOptions;
  relay: RelayRole | undefined;
}

/**
 * The process's one GC pacer. Garbage collection is per process, so the roles running in it
 * (the agent, the gateway, both in standalone mode and in-process tests) share one pacer
 * (process-roles.ts): it runs while any role wants it, with the options of all of them
 * combined (`combinedGcPacer`): the agent's full collections in its bursts and the gateway's
 * young ones every 2 MiB each run as their role asked, also when both roles share the process.
 *
 * Each relayed byte counts once per process: with agent and gateway in one process, a byte
 * is encoded by one and decoded by the other (two notes of the same message), so only the
 * gateway's notes count there (it sees every byte of both directions once); a process
 * without a gateway role counts the agent's.
 */
export class ProcessGcPacer {
  private readonly roles = new ProcessRoles<RoleWant>((wants) => this.update(wants));
  private pacer: GcPacer | undefined;
  /** `counting`, kept up to date by update(): `allocated` runs once per Data message. */
  private countingRole: RelayRole = "agent";

  constructor(
    private readonly clock: Clock,
    private readonly proc: () => GcProcess,
  ) {}

  /**
   * A role wants collections paced with `options`; returns its stop (idempotent). `relay`
   * says which end of Data calls it is (whose allocation notes count, see the class).
   */
  start(options: GcPacerOptions, relay?: RelayRole): () => void {
    return this.roles.join({ options, relay });
  }

  /** Whose allocation notes count in this process: the gateway's when it runs here. */
  get counting(): RelayRole {
    return this.countingRole;
  }

  /** The running pacer (undefined when no role wants one). */
  get running(): GcPacer | undefined {
    return this.pacer;
  }

  /** The options the running pacer uses, if any. */
  get options(): GcPacerOptions | undefined {
    return optionsOf(this.roles.wants);
  }

  /**
   * Relayed data allocated (by `by`, when known): counts towards the running pacer's burst
   * collections, unless it is the other end's note of a byte this process counts already.
   */
  allocated(bytes: number, by?: RelayRole): void {
    if (by !== undefined && by !== this.counting) return;
    this.pacer?.allocated(bytes);
  }

  private update(wants: readonly RoleWant[]): void {
    this.countingRole = wants.some((w) => w.relay === "gateway") ? "gateway" : "agent";
    const options = optionsOf(wants);
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
      ...heldOf(a, b),
    }),
    first,
  );
}

/** The options of a pacer for the roles' `wants` (none: no pacer). */
function optionsOf(wants: readonly RoleWant[]): GcPacerOptions | undefined {
  return wants.length === 0 ? undefined : combinedGcPacer(wants.map((w) => w.options));
}

/** The held rule of two roles' options: the one that collects more readily, if any. */
function heldOf(a: GcPacerOptions, b: GcPacerOptions): Pick<GcPacerOptions, "held"> {
  const [x, y] = [a.held, b.held];
  if (x === undefined || y === undefined) return (x ?? y) ? { held: x ?? y } : {};
  return {
    held: {
      minBytes: Math.min(x.minBytes, y.minBytes),
      quietMs: Math.min(x.quietMs, y.quietMs),
      budgetShare: Math.max(x.budgetShare, y.budgetShare),
    },
  };
}

/** This process's pacer: timers that do not keep it alive, its own RSS, CPU time and GC. */
export const processGcPacer = new ProcessGcPacer(backgroundClock, ownProcess);

/**
 * `bytes` of short-lived buffers were just allocated for relayed data (a Data message
 * encoded or received by `by`): counts towards the process pacer's burst collections, once
 * per relayed byte in this process (see ProcessGcPacer).
 */
export function noteRelayAllocation(bytes: number, by?: RelayRole): void {
  processGcPacer.allocated(bytes, by);
}

/**
 * A Data stream of this process is held back by its far end (the read gate has kept its
 * window closed for a while): the pacer may run its held rule's full collection.
 */
export function noteStreamHeld(): void {
  processGcPacer.running?.held();
}
