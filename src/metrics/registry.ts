/**
 * A tiny metrics registry: counters, gauges and histograms with labels, collected into
 * plain `MetricFamily` values that the Prometheus text renderer and the OTLP encoder both
 * take. No I/O and no timers: the agent and the gateway fill a registry from a status
 * snapshot (or keep one for events) and render what `collect()` returns.
 */
export type Labels = Readonly<Record<string, string>>;

export type MetricType = "counter" | "gauge" | "histogram";

export interface ScalarSample {
  readonly labels: Labels;
  readonly value: number;
}

export interface HistogramSample {
  readonly labels: Labels;
  /** Upper bounds of the buckets, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative): bounds.length + 1 entries, the last is +Inf. */
  readonly bucketCounts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export type MetricFamily =
  | {
      readonly name: string;
      readonly help: string;
      readonly type: "counter" | "gauge";
      readonly samples: readonly ScalarSample[];
    }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: "histogram";
      readonly samples: readonly HistogramSample[];
    };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** A label name Prometheus accepts and does not reserve (`__` prefix). */
export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith("__");
}

/** Names a histogram's samples use besides its own: they must not be taken by another family. */
export const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"] as const;

abstract class Instrument<S> {
  protected readonly children = new Map<string, { labels: Labels; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!isMetricName(name)) throw new RangeError(`invalid metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) {
      if (!isLabelName(l)) throw new RangeError(`${name}: invalid label name ${JSON.stringify(l)}`);
    }
  }

  protected child(labels: Labels, init: () => S): S {
    const keys = Object.keys(labels);
    if (keys.length !== this.labelNames.length || this.labelNames.some((l) => !(l in labels))) {
      throw new RangeError(
        `${this.name}: labels must be exactly [${this.labelNames.join(", ")}], got [${keys.join(", ")}]`,
      );
    }
    const key = JSON.stringify(this.labelNames.map((l) => labels[l]));
    let entry = this.children.get(key);
    if (!entry) {
      const copy: Record<string, string> = {};
      for (const l of this.labelNames) copy[l] = String(labels[l]);
      entry = { labels: copy, state: init() };
      this.children.set(key, entry);
    }
    return entry.state;
  }

  abstract collect(): MetricFamily;
}

export class Counter extends Instrument<{ value: number }> {
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name}: a counter only goes up (got ${by})`);
    this.child(labels, () => ({ value: 0 })).value += by;
  }

  /** Set from a total kept elsewhere (a snapshot's running count). Must not go down. */
  setTotal(labels: Labels, total: number): void {
    const state = this.child(labels, () => ({ value: 0 }));
    state.value = Math.max(state.value, total);
  }

  collect(): MetricFamily {
    return {
      name: this.name,
      help: this.help,
      type: "counter",
      samples: [...this.children.values()].map((c) => ({ labels: c.labels, value: c.state.value })),
    };
  }
}

export class Gauge extends Instrument<{ value: number }> {
  set(labels: Labels, value: number): void {
    this.child(labels, () => ({ value: 0 })).value = value;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.child(labels, () => ({ value: 0 })).value += by;
  }

  collect(): MetricFamily {
    return {
      name: this.name,
      help: this.help,
      type: "gauge",
      samples: [...this.children.values()].map((c) => ({ labels: c.labels, value: c.state.value })),
    };
  }
}

interface HistogramState {
  bucketCounts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Instrument<HistogramState> {
  readonly bounds: readonly number[];

  constructor(
    name: string,
    help: string,
    bounds: readonly number[],
    labelNames: readonly string[],
  ) {
    super(name, help, labelNames);
    if (labelNames.includes("le")) throw new RangeError(`${name}: "le" is reserved in histograms`);
    const sorted = bounds.every(
      (b, i) => Number.isFinite(b) && (i === 0 || b > (bounds[i - 1] ?? b)),
    );
    if (!sorted || bounds.length === 0) {
      throw new RangeError(`${name}: bucket bounds must be finite and strictly ascending`);
    }
    this.bounds = [...bounds];
  }

  private init = (): HistogramState => ({
    bucketCounts: new Array<number>(this.bounds.length + 1).fill(0),
    sum: 0,
    count: 0,
  });

  observe(labels: Labels, value: number): void {
    if (Number.isNaN(value)) return;
    const state = this.child(labels, this.init);
    let i = this.bounds.findIndex((b) => value <= b);
    if (i < 0) i = this.bounds.length;
    state.bucketCounts[i] = (state.bucketCounts[i] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  /** Copy in a whole histogram kept elsewhere (same bounds). */
  load(labels: Labels, sample: Omit<HistogramSample, "labels" | "bounds">): void {
    if (sample.bucketCounts.length !== this.bounds.length + 1) {
      throw new RangeError(`${this.name}: expected ${this.bounds.length + 1} bucket counts`);
    }
    const state = this.child(labels, this.init);
    state.bucketCounts = [...sample.bucketCounts];
    state.sum = sample.sum;
    state.count = sample.count;
  }

  /** The state of one labelled child, for keeping it elsewhere. */
  snapshot(labels: Labels = {}): HistogramSample {
    const state = this.child(labels, this.init);
    return {
      labels,
      bounds: this.bounds,
      bucketCounts: [...state.bucketCounts],
      sum: state.sum,
      count: state.count,
    };
  }

  collect(): MetricFamily {
    return {
      name: this.name,
      help: this.help,
      type: "histogram",
      samples: [...this.children.values()].map((c) => ({
        labels: c.labels,
        bounds: this.bounds,
        bucketCounts: [...c.state.bucketCounts],
        sum: c.state.sum,
        count: c.state.count,
      })),
    };
  }
}

/** Instruments in registration order; a name (with a histogram's suffixes) is taken once. */
interface Collectable {
  readonly name: string;
  collect(): MetricFamily;
}

export class MetricsRegistry {
  private readonly instruments: Collectable[] = [];
  private readonly names = new Set<string>();

  private add<T extends Collectable>(instrument: T, extraNames: readonly string[] = []): T {
    for (const n of [instrument.name, ...extraNames]) {
      if (this.names.has(n)) throw new RangeError(`metric ${n} registered twice`);
    }
    for (const n of [instrument.name, ...extraNames]) this.names.add(n);
    this.instruments.push(instrument);
    return instrument;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    bounds: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    return this.add(
      new Histogram(name, help, bounds, labelNames),
      HISTOGRAM_SUFFIXES.map((s) => `${name}${s}`),
    );
  }

  collect(): MetricFamily[] {
    return this.instruments.map((i) => i.collect());
  }
}

/** Every sample name a family writes (a histogram's `_bucket`, `_sum`, `_count` too). */
export function sampleNames(family: Pick<MetricFamily, "name" | "type">): string[] {
  return family.type === "histogram"
    ? [family.name, ...HISTOGRAM_SUFFIXES.map((s) => `${family.name}${s}`)]
    : [family.name];
}

export function seriesKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * `extra` merged into `base` so that the result is still a valid exposition: a family of
 * the same name and type gets the new series appended (a series already there wins); a
 * family whose name or sample names clash with a different one is left out. Pure.
 */
export function mergeFamilies(
  base: readonly MetricFamily[],
  extra: readonly MetricFamily[],
): MetricFamily[] {
  const out = base.map((f) => ({ ...f, samples: [...f.samples] }) as MetricFamily);
  const byName = new Map(out.map((f) => [f.name, f]));
  const taken = new Set(out.flatMap((f) => sampleNames(f)));
  for (const f of extra) {
    const existing = byName.get(f.name);
    if (existing) {
      if (existing.type !== f.type) continue;
      const seen = new Set(existing.samples.map((s) => seriesKey(s.labels)));
      const fresh = (f.samples as readonly { labels: Labels }[]).filter(
        (s) => !seen.has(seriesKey(s.labels)),
      );
      (existing.samples as unknown as { labels: Labels }[]).push(...fresh);
      continue;
    }
    const names = sampleNames(f);
    if (names.some((n) => taken.has(n))) continue;
    const copy = { ...f, samples: [...f.samples] } as MetricFamily;
    out.push(copy);
    byName.set(f.name, copy);
    for (const n of names) taken.add(n);
  }
  return out;
}
