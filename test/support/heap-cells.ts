import { heapStats } from "bun:jsc";

/**
 * Cells in the JavaScript heap, garbage not yet swept included: every cell, or only those of
 * `types` (e.g. "Function", "JSLexicalEnvironment"). Around a loop after `Bun.gc(true)`, the
 * difference counts what the loop allocated (Bun only).
 */
export function heapCells(types?: readonly string[]): number {
  const counts = heapStats().objectTypeCounts as Record<string, number>;
  const keys = types ?? Object.keys(counts);
  let n = 0;
  for (const k of keys) n += counts[k] ?? 0;
  return n;
}
