import { BgpProxyError } from "../core/errors.ts";
import { Afi } from "./constants.ts";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "./ip-address.ts";

/**
 * An IP prefix as it travels in NLRI: the address family, the prefix length, and only
 * the significant octets (ceil(length / 8)) with host bits cleared.
 */
export interface Prefix {
  readonly afi: Afi;
  readonly length: number;
  readonly bytes: Uint8Array;
}

/** 32 for IPv4, 128 for IPv6. */
export function maxPrefixLength(afi: number): number {
  return afi === Afi.IPV6 ? 128 : 32;
}

/** Mask for the last significant octet of a prefix of `length` bits (0xff when whole). */
function lastByteMask(length: number): number {
  const rem = length & 7;
  return rem === 0 ? 0xff : (0xff << (8 - rem)) & 0xff;
}

/**
 * "10.0.0.0/8" or "2001:db8::/32" (no "/len" means a host route) → Prefix. Throws a
 * config error on a bad address, a bad length, or host bits set beyond the length.
 */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const afi = addrText.includes(":") ? Afi.IPV6 : Afi.IPV4;
  const full = afi === Afi.IPV6 ? parseIpv6(addrText) : parseIpv4(addrText);
  const max = maxPrefixLength(afi);
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > max) {
    throw new BgpProxyError("config", `invalid prefix length in ${JSON.stringify(text)}`, {
      retryable: false,
    });
  }
  const length = Number(lenText);
  const n = (length + 7) >>> 3;
  const bytes = full.slice(0, n);
  const last = n - 1;
  const hostBitsSet =
    (n > 0 && ((bytes[last] ?? 0) & ~lastByteMask(length) & 0xff) !== 0) ||
    full.subarray(n).some((b) => b !== 0);
  if (hostBitsSet) {
    throw new BgpProxyError("config", `host bits set in prefix ${JSON.stringify(text)}`, {
      retryable: false,
    });
  }
  return { afi, length, bytes };
}

/**
 * Text of the prefix whose `ceil(length/8)` octets start at `buf[offset]`, with any
 * trailing bits beyond `length` ignored: "10.0.0.0/8", "2001:db8::/32".
 */
export function prefixToString(
  afi: number,
  length: number,
  buf: Uint8Array,
  offset: number,
): string {
  const full = new Uint8Array(afi === Afi.IPV6 ? 16 : 4);
  const n = (length + 7) >>> 3;
  for (let i = 0; i < n; i++) full[i] = buf[offset + i] ?? 0;
  if (n > 0) full[n - 1] = (full[n - 1] ?? 0) & lastByteMask(length);
  return `${afi === Afi.IPV6 ? formatIpv6(full) : formatIpv4(full)}/${length}`;
}

/** Text of a Prefix: "10.0.0.0/8". */
export function formatPrefix(prefix: Prefix): string {
  return prefixToString(prefix.afi, prefix.length, prefix.bytes, 0);
}

/** Copy a prefix out of NLRI bytes into a standalone Prefix (host bits cleared). */
export function prefixFromNlri(afi: Afi, length: number, buf: Uint8Array, offset: number): Prefix {
  const n = (length + 7) >>> 3;
  const bytes = buf.slice(offset, offset + n);
  if (n > 0) bytes[n - 1] = (bytes[n - 1] ?? 0) & lastByteMask(length);
  return { afi, length, bytes };
}

/**
 * Compact exact key of an IPv4 prefix: address * 64 + length (< 2^38, a plain number).
 * Bits beyond `length` are ignored, so "10.1.0.0/8" and "10.0.0.0/8" share a key.
 */
export function ipv4PrefixKey(length: number, buf: Uint8Array, offset: number): number {
  let addr = 0;
  const n = (length + 7) >>> 3;
  for (let i = 0; i < 4; i++) addr = addr * 256 + (i < n ? (buf[offset + i] ?? 0) : 0);
  if (length < 32) {
    const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
    addr = (addr & mask) >>> 0;
  }
  return addr * 64 + length;
}

/**
 * Compact exact key of an IPv6 prefix: a short string (one UTF-16 unit for the length,
 * then one per 16 significant bits). Bits beyond `length` are ignored.
 */
export function ipv6PrefixKey(length: number, buf: Uint8Array, offset: number): string {
  const n = (length + 7) >>> 3;
  const mask = lastByteMask(length);
  let key = String.fromCharCode(length);
  for (let i = 0; i < n; i += 2) {
    let hi = buf[offset + i] ?? 0;
    let lo = i + 1 < n ? (buf[offset + i + 1] ?? 0) : 0;
    if (i === n - 1) hi &= mask;
    else if (i + 1 === n - 1) lo &= mask;
    key += String.fromCharCode((hi << 8) | lo);
  }
  return key;
}
