import type { Labels, MetricFamily } from "./registry.ts";

/**
 * Metric families → the Prometheus text exposition format, version 0.0.4 (pure). Every
 * family gets its HELP and TYPE lines, then its samples; a histogram's buckets are written
 * cumulatively with an `le` label ending in "+Inf", then `_sum` and `_count`.
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A label value: backslash, double quote and line feed escaped. */
export function escapeLabelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value as Prometheus (Go's ParseFloat) reads it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

function familyLines(family: MetricFamily): string[] {
  const lines = [
    `# HELP ${family.name} ${escapeHelp(family.help)}`,
    `# TYPE ${family.name} ${family.type}`,
  ];
  if (family.type !== "histogram") {
    for (const s of family.samples) {
      lines.push(`${family.name}${labelText(s.labels)} ${formatValue(s.value)}`);
    }
    return lines;
  }
  for (const s of family.samples) {
    let cumulative = 0;
    s.bounds.forEach((bound, i) => {
      cumulative += s.bucketCounts[i] ?? 0;
      lines.push(
        `${family.name}_bucket${labelText(s.labels, ["le", formatValue(bound)])} ${cumulative}`,
      );
    });
    lines.push(`${family.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`);
    lines.push(`${family.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
    lines.push(`${family.name}_count${labelText(s.labels)} ${s.count}`);
  }
  return lines;
}

export function renderPrometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) lines.push(...familyLines(f));
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
