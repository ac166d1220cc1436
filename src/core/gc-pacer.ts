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
 *
 * During a burst (a session's first second at full speed, or a re-opened HTTP/2 window) the
 * process is busy and the engine still collects late: with `burstEveryBytes` a collection
 * also follows every few MiB of Data messages, counted where they are encoded and decoded
 * (`noteRelayAllocation`), within `burstBudgetShare` of the time. The gateway's are young
 * (eden) collections; the agent's are full ones: a young collection leaves the buffers that
 * were in flight when it ran, which then die old (DEVELOPERS.md, "Data path: slow far end
 * memory (session 5)").
 *
 * Garbage collection is per process: the roles in a process (agent, gateway, both in
 * standalone mode) share one pacer, src/core/process-gc-pacer.ts.
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
  /**
   * A collection after this many bytes of Data messages were encoded or received
   * (`noteRelayAllocation`; Infinity: never), at most `burstBudgetShare` of the time.
   */
  burstEveryBytes: number;
  /** What that collection is: "young" (eden, cheap) or "full". */
  burstCollection: "young" | "full";
  /**
   * Only when the memory outside the JavaScript heap (ArrayBuffers: the relayed buffers) grew
   * by this much since its lowest value after the last such collection (0: whatever it is).
   */
  burstGrowthBytes: number;
  /**
   * Only within the first this many bytes relayed after the process was quiet (no Data
   * message for `burstQuietMs`): a session's first burst, or one after a stall, not a
   * long fast transfer (Infinity: always).
   */
  burstWindowBytes: number;
  burstQuietMs: number;
  burstBudgetShare: number;
}

export const DEFAULT_GC_PACER: GcPacerOptions = {
  intervalMs: 500,
  growthBytes: 2 * 1024 * 1024,
  busyShare: 0.1,
  budgetShare: 0.01,
  burstEveryBytes: Number.POSITIVE_INFINITY,
  burstCollection: "young",
  burstGrowthBytes: 0,
  burstWindowBytes: Number.POSITIVE_INFINITY,
  burstQuietMs: 0,
  burstBudgetShare: 0.02,
};

/**
 * The gateway's: young-generation collections during bursts too. A slow far end's first
 * burst and each re-opened HTTP/2 window leave the gateway with dead DATA buffers and
 * reassembled messages that the engine collects late; collecting the young generation every
 * 2 MiB received cut its growth by 4-7 MiB (DEVELOPERS.md, "Data path: slow far end memory
 * (session 4)"). Not the agent's: its growth did not move, and it paid 0.5 CPU s/GiB more.
 */
export const GATEWAY_GC_PACER: GcPacerOptions = {
  ...DEFAULT_GC_PACER,
  burstEveryBytes: 2 * 1024 * 1024,
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
export const AGENT_GC_PACER: GcPacerOptions = {
  ...DEFAULT_GC_PACER,
  burstEveryBytes: 1024 * 1024,
  burstCollection: "full",
  burstGrowthBytes: 3 * 1024 * 1024,
  burstWindowBytes: 32 * 1024 * 1024,
  burstQuietMs: 250,
  burstBudgetShare: 0.2,
};

/** What the pacer reads and does; the gateway passes the process's own. */
export interface GcProcess {
  /** Resident set size, bytes. */
  rss(): number;
  /** CPU time used by the process so far (user + system), ms. */
  cpuMs(): number;
  /** A full, synchronous collection. */
  collect(): void;
  /** A young-generation (eden) collection: frees what died since the last one, cheaply. */
  collectYoung(): void;
  /** Memory held outside the JavaScript heap for it (ArrayBuffers, ...), bytes. */
  external(): number;
}

export class GcPacer {
  private baseline: number;
  private lastCpu: number;
  private timer: TimerHandle | undefined;
  /** No collection before this time (clock ms): the budget. */
  private notBefore = Number.NEGATIVE_INFINITY;
  /** Collections this pacer started. */
  collections = 0;
  /** Collections this pacer started for relayed bytes (`burstEveryBytes`). */
  burstCollections = 0;
  private sinceBurst = 0;
  private burstNotBefore = Number.NEGATIVE_INFINITY;
  /** Lowest external memory seen since the last burst collection. */
  private externalLow = Number.POSITIVE_INFINITY;
  /** Bytes relayed since the process was last quiet, and when the last ones were. */
  private sinceQuiet = 0;
  private lastAllocatedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly proc: GcProcess,
    private options: GcPacerOptions = DEFAULT_GC_PACER,
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

  /**
   * `bytes` of relayed data were allocated: past `burstEveryBytes` since the last such
   * collection, one more (synchronous, of the kind `burstCollection`), if `burstBudgetShare`
   * allows.
   */
  allocated(bytes: number): void {
    const now = this.clock.now();
    if (now - this.lastAllocatedAt > this.options.burstQuietMs) this.sinceQuiet = 0;
    this.lastAllocatedAt = now;
    this.sinceQuiet += bytes;
    if (this.sinceQuiet > this.options.burstWindowBytes) return;
    this.sinceBurst += bytes;
    if (this.sinceBurst < this.options.burstEveryBytes) return;
    this.sinceBurst = 0;
    if (this.options.burstGrowthBytes > 0) {
      const external = this.proc.external();
      if (external < this.externalLow) this.externalLow = external;
      if (external - this.externalLow < this.options.burstGrowthBytes) return;
    }
    if (this.clock.now() < this.burstNotBefore) return;
    const cpu = this.proc.cpuMs();
    if (this.options.burstCollection === "full") this.proc.collect();
    else this.proc.collectYoung();
    this.burstCollections++;
    if (this.options.burstGrowthBytes > 0) this.externalLow = this.proc.external();
    const after = this.proc.cpuMs();
    this.burstNotBefore = this.clock.now() + (after - cpu) / this.options.burstBudgetShare;
  }

  /** New options, from the next look or allocation on (a role joined or left the process). */
  reconfigure(options: GcPacerOptions): void {
    this.options = options;
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
