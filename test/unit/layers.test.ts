import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/**
 * Layers only point down. Each module of src/ belongs to the layer of its top directory (or
 * its own name for a top-level file); a module may import its own directory and any
 * strictly lower layer, never a higher one, nor a sibling of its own layer. `native/` is
 * kept apart: it may import only core, and only the agent's TCP-MD5 code and the process's
 * thread priorities (src/core/process-background-threads.ts) import it.
 * The order is documented in DEVELOPERS.md ("Layers").
 */
const LAYERS: readonly (readonly string[])[] = [
  ["core", "version.ts"],
  ["bgp", "proto", "config", "metrics"],
  ["mrt"],
  ["collector", "relay", "export", "demo"],
  ["bmp"],
  ["agent", "gateway"],
  ["standalone.ts"],
  ["main.ts"],
];

/** native/ is below nothing but core; only files under these prefixes may import it. */
const NATIVE_IMPORTERS = ["src/agent/md5/", "src/core/process-background-threads.ts"];

const ROOT = join(import.meta.dir, "../..");

interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

/** The unit a path belongs to: "native", a src/ top directory, or a top-level src file. */
function unitOf(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] === "native") return "native";
  if (parts[0] !== "src" || parts.length < 2) return undefined;
  return parts[1];
}

function layerIndex(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

/** Every edge that breaks the order, as "from -> to (reason)". */
function layerViolations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = unitOf(from);
    const b = unitOf(to);
    if (a === undefined || b === undefined || a === b) continue;
    if (b === "native") {
      if (!NATIVE_IMPORTERS.some((prefix) => from.startsWith(prefix)))
        out.push(`${from} -> ${to} (only agent/md5 and the thread priorities use native)`);
      continue;
    }
    if (a === "native") {
      if (b !== "core") out.push(`${from} -> ${to} (native imports only core)`);
      continue;
    }
    const la = layerIndex(a);
    const lb = layerIndex(b);
    if (la < 0) out.push(`${from} (${a} has no layer)`);
    else if (lb < 0) out.push(`${to} (${b} has no layer)`);
    else if (lb > la) out.push(`${from} -> ${to} (${a} is below ${b})`);
    else if (lb === la) out.push(`${from} -> ${to} (${a} and ${b} are siblings)`);
  }
  return out;
}

const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function importEdges(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const from of [...sourceFiles("src"), ...sourceFiles("native")]) {
    const text = readFileSync(join(ROOT, from), "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? "";
      const to = relative(ROOT, normalize(join(ROOT, dirname(from), spec)));
      edges.push({ from, to });
    }
  }
  return edges;
}

describe("the import graph", () => {
  test("src/ and native/ import only downwards", () => {
    const edges = importEdges();
    // The scan sees the tree: hundreds of relative imports, some of them across layers.
    expect(edges.length).toBeGreaterThan(200);
    expect(edges.some((e) => unitOf(e.from) !== unitOf(e.to))).toBe(true);
    expect(layerViolations(edges)).toEqual([]);
  });

  test("every top-level unit of src/ has a layer", () => {
    const units = new Set(sourceFiles("src").map((f) => unitOf(f) ?? f));
    const missing = [...units].filter((u) => layerIndex(u) < 0);
    expect(missing).toEqual([]);
  });

  test("an upward, sideways or native import is reported", () => {
    expect(
      layerViolations([
        { from: "src/core/logger.ts", to: "src/agent/agent.ts" },
        { from: "src/export/log-export.ts", to: "src/agent/status/agent-snapshot.ts" },
        { from: "src/gateway/auth.ts", to: "src/agent/call-metadata.ts" },
        { from: "src/gateway/gateway.ts", to: "native/libc.ts" },
        { from: "native/libc.ts", to: "src/proto/wire.ts" },
        { from: "src/agent/md5/md5-support.ts", to: "native/tcp-md5.ts" },
        { from: "src/gateway/gateway.ts", to: "src/core/logger.ts" },
        { from: "src/agent/agent.ts", to: "src/agent/status/agent-snapshot.ts" },
      ]),
    ).toEqual([
      "src/core/logger.ts -> src/agent/agent.ts (core is below agent)",
      "src/export/log-export.ts -> src/agent/status/agent-snapshot.ts (export is below agent)",
      "src/gateway/auth.ts -> src/agent/call-metadata.ts (gateway and agent are siblings)",
      "src/gateway/gateway.ts -> native/libc.ts (only agent/md5 and the thread priorities use native)",
      "native/libc.ts -> src/proto/wire.ts (native imports only core)",
    ]);
  });
});
