import type { Clock } from "./clock.ts";

/**
 * One burst rule of a GC pacer (src/core/gc-pacer.ts): a collection after every few MiB of
 * Data messages encoded or received (`noteRelayAllocation`), within its own share of the time.
 * A process running several roles runs each role's rule side by side, each with its own
 * counters and budget (src/core/process-gc-pacer.ts).
 */
export interface GcBurstRule {
  /** A collection after this many bytes of Data messages were encoded or received. */
  everyBytes: number;
  /** What that collection is: "young" (eden, cheap) or "full". */
  collection: "young" | "full";
  /**
   * Only when the memory outside the JavaScript heap (ArrayBuffers: the relayed buffers) grew
   * by this much since its lowest value after this rule's last collection (0: whatever it is).
   */
  growthBytes: number;
  /**
   * Only when the process's resident memory grew by this much since its lowest value after
   * this rule's last collection (0: whatever it is).
   */
  rssGrowthBytes: number;
  /**
   * Only within the first this many bytes relayed after the process was quiet (no Data
   * message for `quietMs`): a session's first burst, or one after a stall, not a long fast
   * transfer (Infinity: always).
   */
  windowBytes: number;
  quietMs: number;
  /** This rule's collections take at most this share of the time (from what the last cost). */
  budgetShare: number;
}

/** What a rule reads and does (a GcProcess, src/core/gc-pacer.ts). */
export interface GcBurstProcess {
  /** CPU time used by the process so far (user + system), ms. */
  cpuMs(): number;
  /** A full, synchronous collection. */
  collect(): void;
  /** A young-generation (eden) collection. */
  collectYoung(): void;
  /** Memory held outside the JavaScript heap (ArrayBuffers, ...), bytes. */
  external(): number;
  /** Resident set size, bytes. */
  rss(): number;
}

/** Whether two rules are the same rule (a process's roles asking for it once run it once). */
export function sameGcBurstRule(a: GcBurstRule, b: GcBurstRule): boolean {
  return (
    a.everyBytes === b.everyBytes &&
    a.collection === b.collection &&
    a.growthBytes === b.growthBytes &&
    a.rssGrowthBytes === b.rssGrowthBytes &&
    a.windowBytes === b.windowBytes &&
    a.quietMs === b.quietMs &&
    a.budgetShare === b.budgetShare
  );
}

/** `rules` without repeats (the first of each kept, in order). */
export function distinctGcBurstRules(rules: readonly GcBurstRule[]): GcBurstRule[] {
  return rules.filter((rule, i) => rules.findIndex((r) => sameGcBurstRule(r, rule)) === i);
}

/**
 * Runs `collect` (a collection, and whatever is read right after it) and works out when the
 * next one may run for it to take at most `budgetShare` of the time: its own CPU time divided
 * by the share, from now. Every pacer rule budgets its collections this way.
 */
export function collectWithinBudget(
  clock: Clock,
  proc: Pick<GcBurstProcess, "cpuMs">,
  budgetShare: number,
  collect: () => void,
): { notBefore: number; cpuAfter: number } {
  const before = proc.cpuMs();
  collect();
  const cpuAfter = proc.cpuMs();
  return { notBefore: clock.now() + (cpuAfter - before) / budgetShare, cpuAfter };
}

/** The lowest value of a measure seen since it was reset. */
export class LowMark {
  private low = Number.POSITIVE_INFINITY;

  /** Whether `value` is at least `by` above the lowest value seen (this one included). */
  grew(value: number, by: number): boolean {
    if (value < this.low) this.low = value;
    return value - this.low >= by;
  }

  reset(value: number): void {
    this.low = value;
  }
}

/** One rule's counters and budget. */
export class GcBurst {
  private sinceCollection = 0;
  private notBefore = Number.NEGATIVE_INFINITY;
  /** Lowest external memory and RSS seen since this rule's last collection. */
  private readonly external = new LowMark();
  private readonly rss = new LowMark();
  /** Bytes relayed since the process was last quiet, and when the last ones were. */
  private sinceQuiet = 0;
  private lastAllocatedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly proc: GcBurstProcess,
    readonly rule: GcBurstRule,
  ) {}

  /**
   * `bytes` of relayed data were allocated at `now` (the clock's, read once per message by
   * the pacer): counts them (inside the rule's window only).
   */
  count(bytes: number, now: number): void {
    if (now - this.lastAllocatedAt > this.rule.quietMs) this.sinceQuiet = 0;
    this.lastAllocatedAt = now;
    this.sinceQuiet += bytes;
    if (this.sinceQuiet > this.rule.windowBytes) return;
    this.sinceCollection += bytes;
  }

  /**
   * Past `everyBytes` counted since the last collection, one more (synchronous, of the kind
   * `collection`) if the growth and the budget allow; returns the kind it ran, if any.
   */
  collectIfDue(): "young" | "full" | undefined {
    if (this.sinceCollection < this.rule.everyBytes) return undefined;
    this.sinceCollection = 0;
    const { proc, rule } = this;
    if (rule.growthBytes > 0 && !this.external.grew(proc.external(), rule.growthBytes))
      return undefined;
    if (rule.rssGrowthBytes > 0 && !this.rss.grew(proc.rss(), rule.rssGrowthBytes))
      return undefined;
    if (this.clock.now() < this.notBefore) return undefined;
    const collect = rule.collection === "full" ? () => proc.collect() : () => proc.collectYoung();
    this.notBefore = collectWithinBudget(this.clock, proc, rule.budgetShare, collect).notBefore;
    if (rule.growthBytes > 0) this.external.reset(proc.external());
    if (rule.rssGrowthBytes > 0) this.rss.reset(proc.rss());
    return rule.collection;
  }

  /** Another rule ran a full collection, which also did this rule's work: count afresh. */
  collectedByAnother(): void {
    this.sinceCollection = 0;
  }
}
