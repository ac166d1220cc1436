/**
 * Timestamps as the status API and the exporters write them (pure). The reference product
 * prints RFC 3339 with nanoseconds ("2023-07-25T17:01:25.409183151Z"); our clocks count
 * milliseconds, possibly with a fractional part, which is kept to the nanosecond.
 */

/** Whole nanoseconds within the millisecond, 0..999999. */
function subMillisecondNanos(ms: number, whole: number): number {
  return Math.min(999_999, Math.max(0, Math.round((ms - whole) * 1e6)));
}

/** RFC 3339 in UTC with exactly nine fractional digits. */
export function rfc3339Nano(ms: number): string {
  const whole = Math.floor(ms);
  const iso = new Date(whole).toISOString(); // 2023-07-25T17:01:25.409Z
  const nanos = String(subMillisecondNanos(ms, whole)).padStart(6, "0");
  return `${iso.slice(0, -1)}${nanos}Z`;
}

/** Nanoseconds since the epoch as a decimal string (OTLP/JSON's 64-bit integer form). */
export function unixNanos(ms: number): string {
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(subMillisecondNanos(ms, whole))).toString();
}

/** The inverse of unixNanos, to the millisecond (fraction kept); undefined if not a number. */
export function millisFromUnixNanos(text: unknown): number | undefined {
  if (typeof text === "number" && Number.isFinite(text) && text >= 0) return text / 1e6;
  if (typeof text !== "string" || !/^\d{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  return Number(n / 1_000_000n) + Number(n % 1_000_000n) / 1e6;
}

/**
 * `2023-07-25 17:01:49.87`: the reference product's console time, in UTC to the hundredth
 * of a second, as its manual quotes it in `--human-logs` lines.
 */
export function humanLogTime(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString(); // 2023-07-25T17:01:49.870Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 22)}`;
}
