/** Small statistics and number formats for the benchmark tables. */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100); NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export const MB = 1e6;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

const isNum = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

/** Fixed decimals, or "—" when missing. */
export function fmt(x: number | undefined, decimals = 1): string {
  return isNum(x) ? x.toFixed(decimals) : "—";
}

/** Thousands separated integer. */
export function int(x: number | undefined): string {
  return isNum(x) ? Math.round(x).toLocaleString("en-US") : "—";
}

export function mb(bytes: number | undefined, decimals = 1): string {
  return isNum(bytes) ? `${(bytes / MB).toFixed(decimals)} MB` : "—";
}

export function mib(bytes: number | undefined, decimals = 1): string {
  return isNum(bytes) ? `${(bytes / MiB).toFixed(decimals)} MiB` : "—";
}

export function kib(bytes: number | undefined, decimals = 1): string {
  return isNum(bytes) ? `${(bytes / 1024).toFixed(decimals)} KiB` : "—";
}

export function ms(x: number | undefined, decimals = 0): string {
  return isNum(x) ? `${x.toFixed(decimals)} ms` : "—";
}

/** a / b as "1.23×", or "—". */
export function ratio(a: number | undefined, b: number | undefined): string {
  return isNum(a) && isNum(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "—";
}
