/**
 * What a scenario returns and how the results file shows it: raw tables per scenario, one
 * headline row per scenario for the README, targets met or missed, correctness problems.
 * Pure: values in, Markdown out.
 */
import type { ProfileSummary } from "./cpu-profile.ts";

export interface MarkdownTable {
  caption: string;
  head: readonly string[];
  rows: readonly (readonly string[])[];
}

/** One line of the README table. */
export interface Headline {
  scenario: string;
  metric: string;
  direct: string;
  socat: string;
  bgproxy: string;
  ratios: string;
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined: not measured in this mode. */
  met: boolean | undefined;
  /** By how much it is missed, and what limits it. */
  comment?: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** bgproxy's path lost prefixes or bytes: the quick mode fails on these (never on time). */
  broken: string[];
  /** The other paths misbehaved (the harness or the machine, not bgproxy). */
  warnings: string[];
  tables: MarkdownTable[];
  headlines: Headline[];
  targets: TargetCheck[];
  notes: string[];
  profiles?: { process: string; summary: ProfileSummary }[];
  seconds: number;
}

export function renderTable(t: {
  head: readonly string[];
  rows: readonly (readonly string[])[];
}): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(t.head), line(t.head.map(() => "---")), ...t.rows.map(line)].join("\n");
}

export function headlineTable(results: readonly ScenarioResult[]): string {
  return renderTable({
    head: ["scenario", "metric", "(a) direct", "(b) socat", "(c) bgproxy", "ratios"],
    rows: results.flatMap((r) =>
      r.headlines.map((h) => [h.scenario, h.metric, h.direct, h.socat, h.bgproxy, h.ratios]),
    ),
  });
}

export function targetTable(results: readonly ScenarioResult[]): string {
  const verdict = (m: boolean | undefined) => (m === undefined ? "n/a" : m ? "met" : "missed");
  return renderTable({
    head: ["target", "measured", "verdict", "comment"],
    rows: results.flatMap((r) =>
      r.targets.map((t) => [t.target, t.measured, verdict(t.met), t.comment ?? ""]),
    ),
  });
}

export function renderProfile(process: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return [
    `**${process}**: JavaScript sampled running for ${s.busyMs.toFixed(0)} ms of the ${s.totalMs.toFixed(0)} ms profiled (native code counts for its JavaScript caller's area).`,
    "",
    renderTable({
      head: ["area", "self ms", "share of busy"],
      rows: s.areas.map((a) => [a.name, a.ms.toFixed(0), pct(a.share)]),
    }),
    "",
    renderTable({
      head: ["function", "where", "self ms", "share of busy"],
      rows: s.functions.map((f) => [`\`${f.name}\``, f.where, f.ms.toFixed(0), pct(f.share)]),
    }),
  ].join("\n");
}

export function renderScenario(r: ScenarioResult): string {
  const parts = [`## ${r.title}`, ""];
  if (r.broken.length > 0) parts.push(`**BROKEN**: ${r.broken.join("; ")}`, "");
  if (r.warnings.length > 0) parts.push(`Warnings: ${r.warnings.join("; ")}`, "");
  for (const t of r.tables) parts.push(`${t.caption}`, "", renderTable(t), "");
  for (const n of r.notes) parts.push(n, "");
  for (const p of r.profiles ?? []) parts.push(renderProfile(p.process, p.summary), "");
  parts.push(`(${r.seconds.toFixed(0)} s)`, "");
  return parts.join("\n");
}

/** A scenario's result before anything is measured. */
export function emptyResult(id: string, title: string): ScenarioResult {
  return {
    id,
    title,
    broken: [],
    warnings: [],
    tables: [],
    headlines: [],
    targets: [],
    notes: [],
    seconds: 0,
  };
}

/** A scenario that threw: broken, with the first line of the error and the message (cut). */
export function failedResult(id: string, message: string): ScenarioResult {
  return {
    ...emptyResult(id, id),
    broken: [`the scenario failed: ${message.split("\n")[0]}`],
    notes: [`\`\`\`\n${message.slice(0, 3000)}\n\`\`\``],
  };
}
