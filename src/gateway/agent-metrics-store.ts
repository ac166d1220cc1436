import {
  type HistogramSample,
  type Labels,
  type MetricFamily,
  type ScalarSample,
  sampleNames,
  seriesKey,
} from "../metrics/registry.ts";

/**
 * The metrics agents pushed, for the gateway's `/metrics`: the latest sample of each series
 * per agent instance, shown with an `instance` label. A series not refreshed for
 * `expiryMs` is dropped, so an agent that stopped sending disappears. Memory is bounded:
 * at most `maxSeriesPerAgent` series per agent (new ones beyond are refused) and
 * `maxAgents` agents (the one heard from longest ago is evicted).
 */
export interface AgentMetricsLimits {
  readonly expiryMs: number;
  readonly maxSeriesPerAgent: number;
  readonly maxAgents: number;
}

export const DEFAULT_AGENT_METRICS_LIMITS: AgentMetricsLimits = {
  expiryMs: 120_000,
  maxSeriesPerAgent: 5_000,
  maxAgents: 1_000,
};

type Sample = ScalarSample | HistogramSample;

interface StoredFamily {
  help: string;
  type: MetricFamily["type"];
  series: Map<string, { sample: Sample; at: number }>;
}

interface AgentEntry {
  families: Map<string, StoredFamily>;
  series: number;
  lastPush: number;
}

export interface StoreResult {
  readonly accepted: number;
  readonly rejected: number;
}

export class AgentMetricsStore {
  private readonly agents = new Map<string, AgentEntry>();

  constructor(
    private readonly limits: AgentMetricsLimits = DEFAULT_AGENT_METRICS_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keep the samples of one push from `instance`. */
  put(instance: string, families: readonly MetricFamily[]): StoreResult {
    const now = this.now();
    this.prune(now);
    let entry = this.agents.get(instance);
    if (!entry) {
      this.evictFor(instance);
      entry = { families: new Map(), series: 0, lastPush: now };
      this.agents.set(instance, entry);
    }
    entry.lastPush = now;
    let accepted = 0;
    let rejected = 0;
    for (const f of families) {
      let stored = entry.families.get(f.name);
      if (stored && stored.type !== f.type) {
        // The agent changed the type (an upgrade): start over with the new one.
        entry.series -= stored.series.size;
        entry.families.delete(f.name);
        stored = undefined;
      }
      if (!stored) {
        stored = { help: f.help, type: f.type, series: new Map() };
        entry.families.set(f.name, stored);
      }
      stored.help = f.help || stored.help;
      for (const sample of f.samples as readonly Sample[]) {
        const { instance: _ignored, ...rest } = sample.labels;
        const labels: Labels = { instance, ...rest };
        const key = seriesKey(labels);
        if (!stored.series.has(key)) {
          if (entry.series >= this.limits.maxSeriesPerAgent) {
            rejected++;
            continue;
          }
          entry.series++;
        }
        stored.series.set(key, { sample: { ...sample, labels }, at: now });
        accepted++;
      }
    }
    return { accepted, rejected };
  }

  /** Series held now, over all agents. */
  get seriesCount(): number {
    let n = 0;
    for (const a of this.agents.values()) n += a.series;
    return n;
  }

  /** When each agent last pushed metrics (ms since the epoch). */
  lastPushes(): ReadonlyMap<string, number> {
    this.prune(this.now());
    return new Map([...this.agents].map(([k, v]) => [k, v.lastPush]));
  }

  /**
   * Every agent's series as families, merged by name (agents in instance order; a family
   * whose type differs from the first agent's is left out for that agent).
   */
  families(): MetricFamily[] {
    this.prune(this.now());
    const merged = new Map<
      string,
      { help: string; type: MetricFamily["type"]; samples: Sample[] }
    >();
    const taken = new Map<string, string>(); // sample name → family name
    const instances = [...this.agents.keys()].sort();
    for (const instance of instances) {
      const entry = this.agents.get(instance);
      if (!entry) continue;
      for (const [name, f] of entry.families) {
        if (f.series.size === 0) continue;
        let out = merged.get(name);
        if (out && out.type !== f.type) continue;
        if (!out) {
          const names = sampleNames({ name, type: f.type });
          if (names.some((n) => taken.has(n) && taken.get(n) !== name)) continue;
          for (const n of names) taken.set(n, name);
          out = { help: f.help, type: f.type, samples: [] };
          merged.set(name, out);
        }
        for (const s of f.series.values()) out.samples.push(s.sample);
      }
    }
    return [...merged.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(
        ([name, f]) => ({ name, help: f.help, type: f.type, samples: f.samples }) as MetricFamily,
      );
  }

  private prune(now: number): void {
    for (const [instance, entry] of this.agents) {
      for (const [name, f] of entry.families) {
        for (const [key, s] of f.series) {
          if (now - s.at > this.limits.expiryMs) {
            f.series.delete(key);
            entry.series--;
          }
        }
        if (f.series.size === 0) entry.families.delete(name);
      }
      if (entry.families.size === 0 && now - entry.lastPush > this.limits.expiryMs) {
        this.agents.delete(instance);
      }
    }
  }

  private evictFor(instance: string): void {
    if (this.agents.has(instance) || this.agents.size < this.limits.maxAgents) return;
    let oldest: [string, number] | undefined;
    for (const [k, v] of this.agents) {
      if (!oldest || v.lastPush < oldest[1]) oldest = [k, v.lastPush];
    }
    if (oldest) this.agents.delete(oldest[0]);
  }
}
