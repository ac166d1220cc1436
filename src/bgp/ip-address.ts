import { ipv4ToNumber } from "../core/address.ts";
import { BgpProxyError } from "../core/errors.ts";

/**
 * Textual IPv4/IPv6 addresses to and from bytes. Formatting follows RFC 5952 (lower
 * case, longest run of two or more zero groups compressed to "::").
 */

function invalid(text: string, family: string): BgpProxyError {
  return new BgpProxyError("config", `invalid ${family} address: ${JSON.stringify(text)}`, {
    retryable: false,
  });
}

/** "192.0.2.1" → 4 bytes; throws a config error on anything else. */
export function parseIpv4(text: string): Uint8Array {
  const v = ipv4ToNumber(text);
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** 0xC0000201 → "192.0.2.1". */
export function numberToIpv4(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Dotted quad of 4 bytes at `offset` (missing bytes read as 0). */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
}

/** "2001:db8::1" (or "::ffff:192.0.2.1") → 16 bytes; throws a config error otherwise. */
export function parseIpv6(text: string): Uint8Array {
  let head = text;
  let tail4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    tail4 = parseIpv4(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) throw invalid(text, "IPv6");
  const parse = (s: string): number[] => {
    if (s === "") return [];
    return s.split(":").map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw invalid(text, "IPv6");
      return Number.parseInt(g, 16);
    });
  };
  const left = parse(halves[0] ?? "");
  const right = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const groups: number[] =
    halves.length === 2
      ? [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
      : left;
  if (groups.length !== 8 || (halves.length === 2 && left.length + right.length > 7)) {
    throw invalid(text, "IPv6");
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >>> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

/** RFC 5952 text of 16 bytes at `offset` (missing bytes read as 0). */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    groups.push(((bytes[offset + i * 2] ?? 0) << 8) | (bytes[offset + i * 2 + 1] ?? 0));
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
