import type { Clock, TimerHandle } from "./clock.ts";
import {
  collectWithinBudget,
  distinctGcBurstRules,
  GcBurst,
  type GcBurstProcess,
  type GcBurstRule,
  LowMark,
  sameGcBurstRule,
} from "./gc-burst.ts";

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
 *
 * During a burst (a session's first second at full speed, or a re-opened HTTP/2 window) the
 * process is busy and the engine still collects late: each of `bursts` (src/core/gc-burst.ts)
 * also collects after every few MiB of Data messages, counted where they are encoded and
 * decoded (`noteRelayAllocation`), within its own share of the time. The gateway's are young
 * (eden) collections, and full ones in a burst once its RSS grew by 6 MiB; the agent's are
 * full ones: a young collection leaves the buffers that were in flight when it ran, which
 * then die old (DEVELOPERS.md, "Data path: slow far end memory", sessions 5 and 7).
 *
 * Garbage collection is per process: the roles in a process (agent, gateway, both in
 * standalone mode) share one pacer, src/core/process-gc-pacer.ts, which runs each role's
 * burst rule side by side.
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
  /** Collections for relayed bytes, each rule with its own counters and budget. */
  bursts: readonly GcBurstRule[];
  /** A full collection when a Data stream is held back by its far end (none: never). */
  held?: GcHeldRule;
}

/**
 * A full collection once a Data stream is held back (the read gate keeps its HTTP/2 window
 * closed: the far end reads slowly) after a burst: what the burst left behind is dead by
 * then, and the process has nothing else to do until the far end reads on.
 */
export interface GcHeldRule {
  /** Only after this many bytes of Data messages since the last full collection. */
  minBytes: number;
  /** Only when no Data message was encoded or received for this long, ms. */
  quietMs: number;
  /** These collections take at most this share of the time (from what the last cost). */
  budgetShare: number;
}

export const DEFAULT_GC_PACER: GcPacerOptions = {
  intervalMs: 500,
  growthBytes: 2 * 1024 * 1024,
  busyShare: 0.1,
  budgetShare: 0.01,
  bursts: [],
};

/**
 * The gateway's: young-generation collections during bursts too. A slow far end's first
 * burst and each re-opened HTTP/2 window leave the gateway with dead DATA buffers and
 * reassembled messages that the engine collects late; collecting the young generation every
 * 2 MiB received cut its growth by 4-7 MiB (DEVELOPERS.md, "Data path: slow far end memory
 * (session 4)"). Not the agent's: its growth did not move, and it paid 0.5 CPU s/GiB more.
 */
export const GATEWAY_GC_BURST: GcBurstRule = {
  everyBytes: 2 * 1024 * 1024,
  collection: "young",
  growthBytes: 0,
  rssGrowthBytes: 0,
  windowBytes: Number.POSITIVE_INFINITY,
  quietMs: 0,
  budgetShare: 0.02,
};

/**
 * The gateway's full collection once a Data stream is held back by its far end (the read
 * gate kept its window closed for 250 ms) after at least 1 MiB relayed since the last full
 * collection, with no Data message for 50 ms, within 5 % of the time: a slow far end's
 * saw-tooth (each re-opened window at full speed, then a hold) starts each time from what
 * is live (DEVELOPERS.md, "Data path: slow far end memory (session 6)").
 */
export const GATEWAY_GC_HELD: GcHeldRule = {
  minBytes: 1024 * 1024,
  quietMs: 50,
  budgetShare: 0.05,
};

/**
 * The agent's: in a burst (the first 32 MiB relayed after 250 ms without a Data message: a
 * session's start, or a stalled stream re-opened), a full collection whenever its memory
 * outside the heap (the relayed ArrayBuffers) grew by 3 MiB, looked at after every MiB of
 * Data messages encoded, up to 20 % of the time. Young ones did not lower its peak (the
 * buffers in flight survive them and die old); full ones do (DEVELOPERS.md, "Data path: slow
 * far end memory (session 5)"). Not in a long fast transfer: there a full collection after
 * every 3 MiB cost the agent 0.6 CPU s/GiB more even when budgeted at 5 %.
 */
export const AGENT_GC_BURST: GcBurstRule = {
  everyBytes: 1024 * 1024,
  collection: "full",
  growthBytes: 3 * 1024 * 1024,
  rssGrowthBytes: 0,
  windowBytes: 32 * 1024 * 1024,
  quietMs: 250,
  budgetShare: 0.2,
};

/**
 * The gateway's full collections in a burst: the agent's window (the first 32 MiB after 250
 * ms without a Data message), looked at after every MiB received, up to 20 % of the time,
 * but only once its RSS grew by 6 MiB from the lowest seen since the last one. A slow far
 * end's first burst took the gateway's RSS 23 MiB up in under half a second, nearly all of it
 * buffers already dead that the engine had not collected; in a fast transfer the collections
 * stop as soon as what they leave does not grow by 6 MiB again (DEVELOPERS.md, "Data path:
 * slow far end memory (session 7)").
 */
export const GATEWAY_GC_FULL_BURST: GcBurstRule = {
  everyBytes: 1024 * 1024,
  collection: "full",
  growthBytes: 0,
  rssGrowthBytes: 6 * 1024 * 1024,
  windowBytes: 32 * 1024 * 1024,
  quietMs: 250,
  budgetShare: 0.2,
};

/**
 * The gateway's options: the default RSS look, its young burst collections, full ones in a
 * burst once its RSS grew by 6 MiB, and a full one when a stream is held. Not the agent's
 * full burst collections as they are (every 3 MiB of ArrayBuffers): at the gateway they took
 * 1-2 MiB off a slow far end's growth but cost 0.3 CPU s per full table in convergence
 * (DEVELOPERS.md, "Data path: slow far end memory (session 6)").
 */
export const GATEWAY_GC_PACER: GcPacerOptions = {
  ...DEFAULT_GC_PACER,
  bursts: [GATEWAY_GC_BURST, GATEWAY_GC_FULL_BURST],
  held: GATEWAY_GC_HELD,
};

/** The agent's options: the default RSS look and its full burst collections. */
export const AGENT_GC_PACER: GcPacerOptions = {
  ...DEFAULT_GC_PACER,
  bursts: [AGENT_GC_BURST],
};

/** What the pacer reads and does; the gateway passes the process's own. */
export type GcProcess = GcBurstProcess;

export class GcPacer {
  /** The lowest RSS seen since the last collection of the look. */
  private readonly rss = new LowMark();
  private lastCpu: number;
  private timer: TimerHandle | undefined;
  /** No collection before this time (clock ms): the budget. */
  private notBefore = Number.NEGATIVE_INFINITY;
  /** Collections this pacer started. */
  collections = 0;
  /** Collections this pacer started for relayed bytes (its burst rules'). */
  burstCollections = 0;
  /** One per burst rule, full ones first. */
  private bursts: GcBurst[] = [];
  /** Relayed bytes since the last full collection, and when the last ones were (held rule). */
  private sinceFull = 0;
  private lastAllocatedAt = Number.NEGATIVE_INFINITY;
  private heldNotBefore = Number.NEGATIVE_INFINITY;
  /** Collections the held rule started. */
  heldCollections = 0;

  constructor(
    private readonly clock: Clock,
    private readonly proc: GcProcess,
    private options: GcPacerOptions = DEFAULT_GC_PACER,
  ) {
    this.rss.reset(proc.rss());
    this.lastCpu = proc.cpuMs();
    this.reconfigure(options);
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
    const grew = this.rss.grew(this.proc.rss(), this.options.growthBytes);
    if (busy || !grew) return false;
    if (this.clock.now() < this.notBefore) return false;
    const { notBefore, cpuAfter } = collectWithinBudget(
      this.clock,
      this.proc,
      this.options.budgetShare,
      () => {
        this.proc.collect();
        this.rss.reset(this.proc.rss());
      },
    );
    this.collections++;
    this.notBefore = notBefore;
    this.lastCpu = cpuAfter; // the collection's own CPU does not count as busy
    return true;
  }

  /**
   * `bytes` of relayed data were allocated: each burst rule counts them and collects if due;
   * a full collection also counts as one for the other rules (their byte counts start afresh).
   */
  allocated(bytes: number): void {
    const now = this.clock.now();
    this.sinceFull += bytes;
    this.lastAllocatedAt = now;
    for (const burst of this.bursts) burst.count(bytes, now);
    for (const burst of this.bursts) {
      const collected = burst.collectIfDue();
      if (collected !== undefined) this.burstCollections++;
      if (collected !== "full") continue;
      this.sinceFull = 0;
      for (const other of this.bursts) if (other !== burst) other.collectedByAnother();
    }
  }

  /**
   * A Data stream is held back by its far end: one full collection if the held rule allows
   * (enough relayed since the last full one, quiet for a while, within its budget); returns
   * whether it collected.
   */
  held(): boolean {
    const rule = this.options.held;
    if (rule === undefined || this.sinceFull < rule.minBytes) return false;
    const now = this.clock.now();
    if (now - this.lastAllocatedAt < rule.quietMs || now < this.heldNotBefore) return false;
    this.heldNotBefore = collectWithinBudget(this.clock, this.proc, rule.budgetShare, () =>
      this.proc.collect(),
    ).notBefore;
    this.heldCollections++;
    this.sinceFull = 0;
    for (const burst of this.bursts) burst.collectedByAnother();
    return true;
  }

  /**
   * New options, from the next look or allocation on (a role joined or left the process);
   * the burst rules kept keep their counters and budgets.
   */
  reconfigure(options: GcPacerOptions): void {
    this.options = options;
    const rules = distinctGcBurstRules(options.bursts).sort(
      (a, b) => Number(b.collection === "full") - Number(a.collection === "full"),
    );
    this.bursts = rules.map(
      (rule) =>
        this.bursts.find((burst) => sameGcBurstRule(burst.rule, rule)) ??
        new GcBurst(this.clock, this.proc, rule),
    );
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

/** This (Bun) process: its RSS, its CPU time and synchronous collections. */
export function ownProcess(): GcProcess {
  return {
    rss: () => process.memoryUsage.rss(),
    cpuMs: () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    },
    collect: () => Bun.gc(true),
    collectYoung: () => Bun.gc(false),
    external: () => process.memoryUsage().external,
  };
}
