import { unixNanos } from "../core/timestamp.ts";
import {
  type HistogramSample,
  isLabelName,
  isMetricName,
  type Labels,
  type MetricFamily,
  type ScalarSample,
  seriesKey,
} from "../metrics/registry.ts";
import {
  fromKeyValues,
  OTLP_SCOPE_NAME,
  type OtlpResource,
  resourceAttributes,
  toKeyValues,
} from "./otlp-attributes.ts";
import { isRecord, listField, OtlpDecodeError } from "./otlp-error.ts";

/**
 * Metric families ⇄ an OTLP/JSON ExportMetricsServiceRequest
 * (opentelemetry.proto.collector.metrics.v1), as POSTed to `/v1/metrics`. Pure.
 *
 * Counters become monotonic cumulative Sums, gauges Gauges, histograms explicit-bucket
 * cumulative Histograms. Metric names stay the Prometheus names (`..._total`), so a
 * round trip through the gateway is lossless. Decoding keeps what maps back onto the
 * Prometheus model and counts the rest as rejected data points (delta temporality,
 * exponential histograms, summaries, inconsistent buckets, invalid names).
 */
const CUMULATIVE = 2;

type NumberValue = { asInt: string } | { asDouble: number | string };

function numberValue(v: number): NumberValue {
  if (Number.isSafeInteger(v)) return { asInt: String(v) };
  if (Number.isNaN(v)) return { asDouble: "NaN" };
  if (!Number.isFinite(v)) return { asDouble: v > 0 ? "Infinity" : "-Infinity" };
  return { asDouble: v };
}

export function encodeMetrics(
  families: readonly MetricFamily[],
  resource: OtlpResource,
  nowMs: number,
  startMs: number,
): unknown {
  const time = unixNanos(nowMs);
  const start = unixNanos(startMs);
  const metrics = families
    .filter((f) => f.samples.length > 0)
    .map((f) => {
      const base = { name: f.name, description: f.help, unit: "" };
      if (f.type === "histogram") {
        return {
          ...base,
          histogram: {
            aggregationTemporality: CUMULATIVE,
            dataPoints: f.samples.map((s) => ({
              attributes: toKeyValues(s.labels),
              startTimeUnixNano: start,
              timeUnixNano: time,
              count: String(s.count),
              sum: s.sum,
              bucketCounts: s.bucketCounts.map(String),
              explicitBounds: [...s.bounds],
            })),
          },
        };
      }
      const dataPoints = f.samples.map((s) => ({
        attributes: toKeyValues(s.labels),
        ...(f.type === "counter" ? { startTimeUnixNano: start } : {}),
        timeUnixNano: time,
        ...numberValue(s.value),
      }));
      return f.type === "counter"
        ? { ...base, sum: { aggregationTemporality: CUMULATIVE, isMonotonic: true, dataPoints } }
        : { ...base, gauge: { dataPoints } };
    });
  return {
    resourceMetrics: [
      {
        resource: { attributes: resourceAttributes(resource) },
        scopeMetrics: [
          { scope: { name: OTLP_SCOPE_NAME, version: resource.serviceVersion }, metrics },
        ],
      },
    ],
  };
}

export interface DecodedMetrics {
  readonly resource: Record<string, unknown>;
  readonly families: MetricFamily[];
  /** Data points (or whole metrics) that could not be mapped. */
  readonly rejected: number;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return undefined;
  if (v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  return v.trim() === "" || Number.isNaN(n) ? undefined : n;
}

function pointValue(p: Record<string, unknown>): number | undefined {
  return toNumber(p.asDouble) ?? toNumber(p.asInt);
}

/** Attributes → Prometheus labels: scalar values as text, names made valid. */
function labelsOf(attributes: unknown): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fromKeyValues(attributes))) {
    if (typeof v === "object") continue;
    let name = k.replace(/[^a-zA-Z0-9_]/g, "_");
    if (/^\d/.test(name)) name = `_${name}`;
    if (!isLabelName(name)) continue;
    out[name] = String(v);
  }
  return out;
}

function histogramPoint(p: Record<string, unknown>): Omit<HistogramSample, "labels"> | undefined {
  const bounds = Array.isArray(p.explicitBounds) ? p.explicitBounds.map(toNumber) : [];
  const counts = Array.isArray(p.bucketCounts) ? p.bucketCounts.map(toNumber) : [];
  const count = toNumber(p.count);
  const sum = toNumber(p.sum) ?? 0;
  if (count === undefined || !Number.isSafeInteger(count) || count < 0) return undefined;
  if (bounds.length === 0 || counts.length !== bounds.length + 1) return undefined;
  if (
    bounds.some(
      (b, i) => b === undefined || !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] ?? b)),
    )
  ) {
    return undefined;
  }
  if (counts.some((c) => c === undefined || !Number.isSafeInteger(c) || c < 0)) return undefined;
  const total = counts.reduce<number>((a, c) => a + (c ?? 0), 0);
  if (total !== count) return undefined;
  return {
    bounds: bounds as number[],
    bucketCounts: counts as number[],
    sum,
    count,
  };
}

interface Draft {
  name: string;
  help: string;
  type: MetricFamily["type"];
  samples: Map<string, ScalarSample | HistogramSample>;
}

/** Parse an ExportMetricsServiceRequest; throws OtlpDecodeError when its shape is wrong. */
export function decodeMetrics(body: unknown): DecodedMetrics[] {
  if (!isRecord(body)) throw new OtlpDecodeError("the body must be a JSON object");
  const out: DecodedMetrics[] = [];
  for (const [i, rm] of listField(body, "resourceMetrics", "request").entries()) {
    const where = `resourceMetrics[${i}]`;
    if (!isRecord(rm)) throw new OtlpDecodeError(`${where} must be an object`);
    const resource = isRecord(rm.resource) ? fromKeyValues(rm.resource.attributes) : {};
    const drafts = new Map<string, Draft>();
    let rejected = 0;
    for (const [j, sm] of listField(rm, "scopeMetrics", where).entries()) {
      if (!isRecord(sm)) throw new OtlpDecodeError(`${where}.scopeMetrics[${j}] must be an object`);
      for (const m of listField(sm, "metrics", `${where}.scopeMetrics[${j}]`)) {
        if (!isRecord(m)) throw new OtlpDecodeError(`${where}: a metric must be an object`);
        rejected += addMetric(drafts, m);
      }
    }
    const families = [...drafts.values()].map(
      (d) =>
        ({
          name: d.name,
          help: d.help,
          type: d.type,
          samples: [...d.samples.values()],
        }) as MetricFamily,
    );
    out.push({ resource, families, rejected });
  }
  return out;
}

/** Adds one OTLP metric to the drafts; returns how many data points were rejected. */
function addMetric(drafts: Map<string, Draft>, m: Record<string, unknown>): number {
  const name = typeof m.name === "string" ? m.name : "";
  const help = typeof m.description === "string" ? m.description : "";
  let type: MetricFamily["type"];
  let data: Record<string, unknown>;
  if (isRecord(m.sum)) {
    data = m.sum;
    if (data.aggregationTemporality !== CUMULATIVE && data.isMonotonic === true) {
      return countPoints(data);
    }
    type = data.isMonotonic === true ? "counter" : "gauge";
  } else if (isRecord(m.gauge)) {
    data = m.gauge;
    type = "gauge";
  } else if (isRecord(m.histogram)) {
    data = m.histogram;
    if (data.aggregationTemporality !== CUMULATIVE) return countPoints(data);
    type = "histogram";
  } else {
    return 1; // summary, exponential histogram or nothing: no Prometheus counterpart here
  }
  if (!isMetricName(name)) return countPoints(data);
  let draft = drafts.get(name);
  if (draft && draft.type !== type) return countPoints(data);
  if (!draft) {
    draft = { name, help, type, samples: new Map() };
    drafts.set(name, draft);
  }
  let rejected = 0;
  const points = Array.isArray(data.dataPoints) ? data.dataPoints : [];
  for (const p of points) {
    if (!isRecord(p)) {
      rejected++;
      continue;
    }
    const labels = labelsOf(p.attributes);
    if (type === "histogram") {
      const h = histogramPoint(p);
      if (!h || "le" in labels) rejected++;
      else draft.samples.set(seriesKey(labels), { labels, ...h });
      continue;
    }
    const value = pointValue(p);
    if (value === undefined) rejected++;
    else draft.samples.set(seriesKey(labels), { labels, value });
  }
  return rejected;
}

function countPoints(data: Record<string, unknown>): number {
  return Array.isArray(data.dataPoints) ? Math.max(1, data.dataPoints.length) : 1;
}
