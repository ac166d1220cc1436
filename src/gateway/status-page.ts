import { rfc3339Nano } from "../core/timestamp.ts";
import type { AgentView } from "./agent-view.ts";
import type { DeviceView } from "./device-view.ts";

/**
 * The gateway's HTML status page at `/` (pure renderer): devices with their session state
 * and prefix counts, connected agents with their heartbeat age, and a prefix search form
 * (answered by /lookup). Plain HTML and a
 * little CSS, no script; it reloads itself every 10 s. Every value is escaped.
 */
export interface StatusPageInput {
  readonly version: string;
  readonly now: number;
  readonly devices: readonly DeviceView[];
  readonly agents: readonly AgentView[];
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** The search form, also on the lookup page (lookup-page.ts). */
export function searchForm(query = ""): string {
  return [
    '<form class="search" action="/lookup" method="get">',
    '<label for="q">Prefix search</label> ',
    `<input id="q" name="q" type="search" placeholder="192.0.2.1 or 2001:db8::/32" value="${escapeHtml(query)}">`,
    ' <button type="submit">Look up</button>',
    "</form>",
  ].join("");
}

const num = new Intl.NumberFormat("en-US");

/** "4.2 s", "3 min 05 s", "2 h 07 min". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

function cell(text: string | number, cls?: string): string {
  const value = typeof text === "number" ? num.format(text) : escapeHtml(text);
  return `<td${cls ? ` class="${cls}"` : ""}>${value}</td>`;
}

function table(caption: string, head: readonly string[], rows: string[], empty: string): string {
  const body =
    rows.length > 0
      ? rows.join("\n")
      : `<tr><td class="empty" colspan="${head.length}">${escapeHtml(empty)}</td></tr>`;
  return [
    `<table id="${caption.toLowerCase()}">`,
    `<caption>${escapeHtml(caption)}</caption>`,
    `<thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>`,
    `<tbody>\n${body}\n</tbody>`,
    "</table>",
  ].join("\n");
}

function deviceRow(d: DeviceView): string {
  return `<tr class="device state-${d.state}">${[
    cell(d.name, "name"),
    cell(d.ip, "mono"),
    cell(d.site),
    cell(d.target),
    `<td class="state"><span class="badge ${d.state}">${escapeHtml(d.state)}</span></td>`,
    cell(d.sessions, "num"),
    cell(d.updates, "num"),
    cell(d.prefixes.ipv4, "num ipv4"),
    cell(d.prefixes.ipv6, "num ipv6"),
    cell(d.md5 ? "yes" : "no"),
  ].join("")}</tr>`;
}

function plural(n: number, word: string): string {
  return `${num.format(n)} ${word}${n === 1 ? "" : "s"}`;
}

function agentRow(a: AgentView, now: number, heartbeatWarnMs: number): string {
  const stale = a.heartbeat_age_ms > heartbeatWarnMs;
  const exported = a.last_metrics_export === null ? Number.NaN : Date.parse(a.last_metrics_export);
  return `<tr class="agent">${[
    cell(a.instance, "mono"),
    cell(a.version),
    cell(a.remote_address, "mono"),
    cell(a.connected_since.slice(0, 19).replace("T", " "), "mono"),
    cell(formatAge(a.heartbeat_age_ms), stale ? "age stale" : "age"),
    cell(a.active_sessions, "num"),
    cell(Number.isNaN(exported) ? "never" : `${formatAge(now - exported)} ago`),
  ].join("")}</tr>`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d232a; background: #f6f7f9; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { color: #5b6570; margin: 0 0 20px; }
table { border-collapse: collapse; width: 100%; margin: 0 0 28px; background: #fff;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
caption { text-align: left; font-weight: 600; font-size: 16px; padding: 0 0 8px; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; }
th { background: #eef1f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.mono { font-family: ui-monospace, monospace; }
td.empty { color: #5b6570; font-style: italic; }
td.stale { color: #b42318; font-weight: 600; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.established { background: #d1f2dc; color: #106b32; }
.badge.connected { background: #fff1c2; color: #7a5300; }
.badge.idle { background: #e4e7eb; color: #4a535c; }
`;

export function renderStatusPage(input: StatusPageInput, heartbeatWarnMs = 30_000): string {
  const established = input.devices.filter((d) => d.state === "established").length;
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta http-equiv="refresh" content="10">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>bgproxy gateway</title>",
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<h1>bgproxy gateway</h1>",
    `<p class="meta">version ${escapeHtml(input.version)} · ${escapeHtml(rfc3339Nano(input.now).slice(0, 19).replace("T", " "))} UTC · ` +
      `${plural(input.devices.length, "device")}, ${num.format(established)} established · ` +
      `${plural(input.agents.length, "agent")} connected</p>`,
    searchForm(),
    table(
      "Devices",
      [
        "Device",
        "Address",
        "Site",
        "Target",
        "State",
        "Sessions",
        "Updates",
        "IPv4 prefixes",
        "IPv6 prefixes",
        "MD5",
      ],
      input.devices.map(deviceRow),
      "No devices configured.",
    ),
    table(
      "Agents",
      [
        "Instance",
        "Version",
        "Remote address",
        "Connected since (UTC)",
        "Heartbeat age",
        "Sessions",
        "Last metrics export",
      ],
      input.agents.map((a) => agentRow(a, input.now, heartbeatWarnMs)),
      "No agent connected.",
    ),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
