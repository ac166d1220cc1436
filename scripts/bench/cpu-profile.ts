/**
 * Reads a `bun --cpu-prof` profile (Chrome .cpuprofile: a call tree, the node each sample hit
 * and the time between samples) and says where the time went: self time per function and per
 * area (our relay, grpc-js, Bun's node:http2, BGP decoding ...; native code counts for its
 * JavaScript caller's area). Pure apart from reading the file.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  name: string;
  where: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile spans, ms. */
  totalMs: number;
  /** Time JavaScript was sampled running (samples × interval), ms. */
  busyMs: number;
  functions: ProfileLine[];
  areas: ProfileLine[];
}

const AREAS: readonly [RegExp, string][] = [
  // Dependencies first: their paths contain "/src/" too.
  [/node_modules\/@grpc\/grpc-js\//, "grpc-js"],
  [/node_modules\//, "other dependencies"],
  [/\/src\/relay\//, "bgproxy relay (src/relay)"],
  [
    /\/src\/gateway\/session-observer|\/src\/bgp\/|\/src\/collector\//,
    "BGP decoding (observer/collector)",
  ],
  [/\/src\/proto\//, "proto codec (src/proto)"],
  [/\/src\/agent\//, "agent (src/agent)"],
  [/\/src\/gateway\//, "gateway (src/gateway)"],
  [/\/src\//, "bgproxy other (src/)"],
  [/^node:http2|internal:http2|http2/, "node:http2 (Bun)"],
  [/^node:|^internal:|^bun:|builtin/, "Bun runtime (node:* modules)"],
  [/\/scripts\/bench\//, "bench host"],
];

/**
 * The area of a sample: that of its function, or for native code (a copy, a socket write) that
 * of the nearest JavaScript caller, so that `Buffer.set` under the proto encoder counts as the
 * proto codec's time.
 */
function areaOf(node: ProfileNode, parent: ReadonlyMap<number, ProfileNode>): string {
  for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id)) {
    const { url, functionName } = n.callFrame;
    if (functionName === "(program)" || functionName === "(root)") break;
    if (url === "") continue;
    for (const [re, name] of AREAS) if (re.test(url)) return name;
    return "other JS";
  }
  return "native / VM";
}

function shortUrl(url: string): string {
  const m = url.match(/(src\/.*|node_modules\/.*|scripts\/.*)$/);
  return m?.[1] ?? url.replace(/^file:\/\//, "");
}

export function summarizeProfile(path: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  // Bun samples only while JavaScript runs: an idle process leaves long gaps between
  // samples instead of "(idle)" samples. So each sample counts as one sampling interval
  // (the median gap), and the gaps are the idle time.
  const deltas = [...profile.timeDeltas].sort((a, b) => a - b);
  const interval = deltas[Math.floor(deltas.length / 2)] ?? 1000;
  const selfUs = new Map<number, number>();
  for (const id of profile.samples) selfUs.set(id, (selfUs.get(id) ?? 0) + interval);
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const area = new Map<string, number>();
  const total = profile.endTime - profile.startTime;
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    busy += us;
    const a = areaOf(node, parent);
    area.set(a, (area.get(a) ?? 0) + us);
    const where = node.callFrame.url
      ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`
      : "native";
    const name = node.callFrame.functionName || "(anonymous)";
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
  }
  const line = (name: string, where: string, us: number): ProfileLine => ({
    name,
    where,
    ms: us / 1000,
    share: busy > 0 ? us / busy : 0,
  });
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    functions: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => line(e.name, e.where, e.us)),
    areas: [...area.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => line(name, "", us)),
  };
}
