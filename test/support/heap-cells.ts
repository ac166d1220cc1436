import { heapStats } from "bun:jsc";

/**
 * Cells `run` left in the JavaScript heap: every cell, or only those of `types` (e.g.
 * "Function", "JSLexicalEnvironment"), counted after a full collection before it and right
 * after it, garbage not yet swept included: what it allocated (Bun only).
 */
export function cellsAllocatedBy(run: () => void, types?: readonly string[]): number {
  Bun.gc(true);
  const before = heapCells(types);
  run();
  return heapCells(types) - before;
}

function heapCells(types: readonly string[] | undefined): number {
  const counts = heapStats().objectTypeCounts as Record<string, number>;
  let n = 0;
  for (const k of types ?? Object.keys(counts)) n += counts[k] ?? 0;
  return n;
}
