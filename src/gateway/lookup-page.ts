import type { RouteAttributesView } from "../collector/stored-attributes.ts";
import { escapeHtml, searchForm } from "./status-page.ts";

/**
 * The prefix search of the status page (pure renderer): a form (`GET /lookup?q=`) and, for
 * an address or prefix, the most specific route covering it in every device's table — AS
 * path, next hop, communities. Plain HTML, no script; every value is escaped.
 */
export interface RouteView extends RouteAttributesView {
  readonly prefix: string;
}

/** One device's answer to a lookup. */
export interface DeviceMatch {
  readonly device: string;
  readonly route: RouteView | null;
}

export interface LookupPageInput {
  readonly version: string;
  readonly query: string;
  readonly matches: readonly DeviceMatch[];
  readonly error?: string | undefined;
}

function matchRow(m: DeviceMatch): string {
  const r = m.route;
  const td = (text: string, cls: string) => `<td class="${cls}">${escapeHtml(text)}</td>`;
  if (!r) {
    return `<tr class="route none">${td(m.device, "device")}<td class="empty" colspan="5">no route</td></tr>`;
  }
  const communities = [
    ...(r.communities ?? []),
    ...(r.largeCommunities ?? []),
    ...(r.extendedCommunities ?? []).map((c) => `ext:${c}`),
  ];
  return `<tr class="route">${[
    td(m.device, "device"),
    td(r.prefix, "prefix mono"),
    td(r.asPath.join(" "), "aspath mono"),
    td(r.nextHop ?? "", "nexthop mono"),
    td(r.origin ?? "", "origin"),
    td(communities.join(" "), "communities mono"),
  ].join("")}</tr>`;
}

export function renderLookupPage(input: LookupPageInput): string {
  const body: string[] = [];
  if (input.error) body.push(`<p class="error">${escapeHtml(input.error)}</p>`);
  else if (input.query) {
    body.push(
      '<table id="routes">',
      `<caption>Longest match for ${escapeHtml(input.query)}</caption>`,
      "<thead><tr><th>Device</th><th>Prefix</th><th>AS path</th><th>Next hop</th><th>Origin</th><th>Communities</th></tr></thead>",
      "<tbody>",
      input.matches.length > 0
        ? input.matches.map(matchRow).join("\n")
        : '<tr><td class="empty" colspan="6">No device has a routing table.</td></tr>',
      "</tbody>",
      "</table>",
    );
  }
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    "<title>bgproxy gateway: prefix search</title>",
    "<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px}table{border-collapse:collapse;width:100%}" +
      "th,td{padding:6px 10px;border-bottom:1px solid #e4e7eb;text-align:left}.mono{font-family:ui-monospace,monospace}" +
      ".error{color:#b42318}</style>",
    "</head>",
    "<body>",
    `<h1><a href="/">bgproxy gateway</a>: prefix search</h1>`,
    `<p class="meta">version ${escapeHtml(input.version)}</p>`,
    searchForm(input.query),
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
