import { ConfigError } from "../core/errors.ts";
import type { Setting } from "./flags.ts";
import { echo } from "./redaction.ts";

/**
 * Parsers for single values from flags and env. Each takes a Setting (the value and the
 * name to blame) and returns the typed value or throws a one-line ConfigError.
 */

/** A value as shown in an error: quoted, escaped, and cut if very long. */
export function quote(value: string): string {
  return echo(value);
}

export function invalid(setting: Setting, expectation: string): ConfigError {
  return new ConfigError(`${setting.label} must be ${expectation}, got ${quote(setting.value)}`);
}

const DIGITS = /^\d+$/;

/** A decimal integer in [min, max]; no signs, spaces, exponents or hex. */
export function parseInteger(setting: Setting, min: number, max: number): number {
  const text = setting.value.trim();
  const n = DIGITS.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid(setting, `an integer from ${min} to ${max}`);
  }
  return n;
}

const DECIMAL = /^\d+(\.\d+)?$/;

/** A duration in seconds (decimals allowed), as whole milliseconds in [1 ms, maxSeconds]. */
export function parseSecondsAsMs(setting: Setting, maxSeconds: number): number {
  const text = setting.value.trim();
  const ms = DECIMAL.test(text) ? Math.round(Number(text) * 1000) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > maxSeconds * 1000) {
    throw invalid(setting, `a number of seconds greater than 0 and at most ${maxSeconds}`);
  }
  return ms;
}

/** An absolute http:// or https:// URL, returned as given. */
export function parseHttpUrl(setting: Setting): string {
  let url: URL | undefined;
  try {
    url = new URL(setting.value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw invalid(setting, "an http:// or https:// URL");
  }
  return setting.value;
}

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1), without "/" or spaces. */
export function parseInterfaceName(setting: Setting): string {
  const name = setting.value;
  if (!/^[^\s/:]{1,15}$/.test(name)) {
    throw invalid(setting, 'a network interface name (1-15 characters, or "any")');
  }
  return name;
}

/** Visible ASCII only: the value goes into an HTTP/2 header. Never echoes the value. */
export function parseHeaderValue(setting: Setting, secret: boolean): string {
  const value = setting.value;
  if (/^[\x21-\x7e]+$/.test(value)) return value;
  const problem = "must be printable ASCII without spaces (it is sent as a gRPC header)";
  throw new ConfigError(
    secret ? `${setting.label} ${problem}` : `${setting.label} ${problem}, got ${quote(value)}`,
  );
}
