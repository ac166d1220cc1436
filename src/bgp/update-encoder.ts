import { BgpProxyError } from "../core/errors.ts";
import { ByteWriter } from "./byte-writer.ts";
import {
  Afi,
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  MAX_MESSAGE_LENGTH,
  MessageType,
  Safi,
} from "./constants.ts";
import { encodeMessage } from "./header.ts";
import { parseIpv4, parseIpv6 } from "./ip-address.ts";
import { writeNlri } from "./nlri.ts";
import type { AsPathSegment } from "./path-attribute.ts";
import { type Prefix, parsePrefix } from "./prefix.ts";

/**
 * UPDATE encoding, for tests, benchmarks and traffic generators. Only what is given
 * is encoded (no ORIGIN or AS_PATH is invented), so malformed UPDATEs can be built
 * on purpose; MP_UNREACH_NLRI and MP_REACH_NLRI go first (RFC 7606 §5.1).
 */

export type PrefixInput = string | Prefix;

export interface RawAttribute {
  readonly flags: number;
  readonly type: number;
  readonly value: Uint8Array;
}

export interface UpdateSpec {
  /** IPv4 Withdrawn Routes. */
  withdrawn?: readonly PrefixInput[];
  /** IPv4 NLRI. */
  nlri?: readonly PrefixInput[];
  /** 0 IGP, 1 EGP, 2 INCOMPLETE. */
  origin?: number;
  /** ASNs as one AS_SEQUENCE (split every 255), or explicit segments. */
  asPath?: readonly number[] | readonly AsPathSegment[];
  /** Encode AS_PATH with 4-octet ASNs (default true: RFC 6793 negotiated). */
  fourOctetAs?: boolean;
  /** IPv4 NEXT_HOP attribute. */
  nextHop?: string;
  med?: number;
  localPref?: number;
  /** RFC 1997 communities: "65000:100" or the 32-bit value. */
  communities?: readonly (string | number)[];
  /** RFC 8092 large communities. */
  largeCommunities?: readonly (readonly [number, number, number])[];
  mpReach?: {
    /** Defaults to the next hop's family (give 1 for IPv4 NLRI over an IPv6 next hop). */
    afi?: number;
    safi?: number;
    /** One address, or global + link-local for IPv6 (a 32-octet next hop). */
    nextHop: string | readonly string[];
    nlri: readonly PrefixInput[];
  };
  mpUnreach?: { afi: number; safi?: number; withdrawn: readonly PrefixInput[] };
  /** Appended as given, after everything else. */
  attributes?: readonly RawAttribute[];
}

const toPrefix = (p: PrefixInput): Prefix => (typeof p === "string" ? parsePrefix(p) : p);

function writeAttribute(w: ByteWriter, flags: number, type: number, value: Uint8Array): void {
  if (value.length > 255) {
    w.u8(flags | AttrFlag.EXTENDED_LENGTH)
      .u8(type)
      .u16(value.length);
  } else {
    w.u8(flags & ~AttrFlag.EXTENDED_LENGTH)
      .u8(type)
      .u8(value.length);
  }
  w.bytes(value);
}

function community(c: string | number): number {
  if (typeof c === "number") return c >>> 0;
  const m = /^(\d+):(\d+)$/.exec(c);
  const hi = Number(m?.[1]);
  const lo = Number(m?.[2]);
  if (!m || hi > 0xffff || lo > 0xffff) {
    throw new BgpProxyError("config", `invalid community ${JSON.stringify(c)}`, {
      retryable: false,
    });
  }
  return hi * 0x10000 + lo;
}

function isSegments(
  p: readonly number[] | readonly AsPathSegment[],
): p is readonly AsPathSegment[] {
  return p.length > 0 && typeof p[0] === "object";
}

/** AS_PATH value octets. */
export function encodeAsPath(
  path: readonly number[] | readonly AsPathSegment[],
  fourOctetAs = true,
): Uint8Array {
  const segments: AsPathSegment[] = [];
  if (isSegments(path)) {
    segments.push(...path);
  } else {
    const asns = path as readonly number[];
    for (let i = 0; i < asns.length; i += 255) {
      segments.push({ type: AsPathSegmentType.AS_SEQUENCE, asns: asns.slice(i, i + 255) });
    }
  }
  const w = new ByteWriter(2 + 4 * (path.length + 1));
  for (const s of segments) {
    w.u8(s.type).u8(s.asns.length);
    for (const a of s.asns) {
      if (fourOctetAs) w.u32(a);
      else w.u16(a);
    }
  }
  return w.finish();
}

function nlriBytes(prefixes: readonly PrefixInput[]): Uint8Array {
  const w = new ByteWriter(prefixes.length * 4 + 8);
  for (const p of prefixes) writeNlri(w, toPrefix(p));
  return w.finish();
}

function mpReachValue(spec: NonNullable<UpdateSpec["mpReach"]>): Uint8Array {
  const prefixes = spec.nlri.map(toPrefix);
  const hops = typeof spec.nextHop === "string" ? [spec.nextHop] : spec.nextHop;
  const afi = spec.afi ?? (hops[0]?.includes(":") ? Afi.IPV6 : Afi.IPV4);
  const w = new ByteWriter(64 + prefixes.length * 10);
  w.u16(afi).u8(spec.safi ?? Safi.UNICAST);
  const hopBytes = hops.map((h) => (h.includes(":") ? parseIpv6(h) : parseIpv4(h)));
  w.u8(hopBytes.reduce((n, b) => n + b.length, 0));
  for (const b of hopBytes) w.bytes(b);
  w.u8(0); // Reserved
  for (const p of prefixes) writeNlri(w, p);
  return w.finish();
}

/** The UPDATE body (no header). */
export function encodeUpdateBody(spec: UpdateSpec): Uint8Array {
  const w = new ByteWriter(256);
  const withdrawn = nlriBytes(spec.withdrawn ?? []);
  w.u16(withdrawn.length).bytes(withdrawn);
  const lenAt = w.length;
  w.u16(0);
  const on = AttrFlag.OPTIONAL;
  const ot = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;
  const wk = AttrFlag.TRANSITIVE;
  if (spec.mpUnreach) {
    const u = spec.mpUnreach;
    const v = new ByteWriter(64);
    v.u16(u.afi)
      .u8(u.safi ?? Safi.UNICAST)
      .bytes(nlriBytes(u.withdrawn));
    writeAttribute(w, on, AttrType.MP_UNREACH_NLRI, v.finish());
  }
  if (spec.mpReach) writeAttribute(w, on, AttrType.MP_REACH_NLRI, mpReachValue(spec.mpReach));
  if (spec.origin !== undefined) writeAttribute(w, wk, AttrType.ORIGIN, Uint8Array.of(spec.origin));
  if (spec.asPath !== undefined) {
    writeAttribute(w, wk, AttrType.AS_PATH, encodeAsPath(spec.asPath, spec.fourOctetAs ?? true));
  }
  if (spec.nextHop !== undefined) writeAttribute(w, wk, AttrType.NEXT_HOP, parseIpv4(spec.nextHop));
  const u32 = (x: number) => new ByteWriter(4).u32(x).finish();
  if (spec.med !== undefined) writeAttribute(w, on, AttrType.MULTI_EXIT_DISC, u32(spec.med));
  if (spec.localPref !== undefined) writeAttribute(w, wk, AttrType.LOCAL_PREF, u32(spec.localPref));
  if (spec.communities && spec.communities.length > 0) {
    const v = new ByteWriter(spec.communities.length * 4);
    for (const c of spec.communities) v.u32(community(c));
    writeAttribute(w, ot, AttrType.COMMUNITIES, v.finish());
  }
  if (spec.largeCommunities && spec.largeCommunities.length > 0) {
    const v = new ByteWriter(spec.largeCommunities.length * 12);
    for (const [g, a, b] of spec.largeCommunities) v.u32(g).u32(a).u32(b);
    writeAttribute(w, ot, AttrType.LARGE_COMMUNITIES, v.finish());
  }
  for (const a of spec.attributes ?? []) writeAttribute(w, a.flags, a.type, a.value);
  const attrLen = w.length - lenAt - 2;
  w.patchU16(lenAt, attrLen);
  w.bytes(nlriBytes(spec.nlri ?? []));
  return w.finish();
}

/**
 * Encode a whole UPDATE message. Throws an internal error when it exceeds `maxLength`
 * (4096 unless RFC 8654 extended messages are in use).
 */
export function encodeUpdate(spec: UpdateSpec, maxLength = MAX_MESSAGE_LENGTH): Uint8Array {
  return encodeMessage(MessageType.UPDATE, encodeUpdateBody(spec), maxLength);
}

/** The End-of-RIB marker for a family (RFC 4724 §2). */
export function encodeEndOfRib(afi: number = Afi.IPV4, safi: number = Safi.UNICAST): Uint8Array {
  if (afi === Afi.IPV4 && safi === Safi.UNICAST) return encodeUpdate({});
  return encodeUpdate({ mpUnreach: { afi, safi, withdrawn: [] } });
}

/**
 * Announce many prefixes of one family with shared attributes, packed into as few
 * UPDATEs as fit in `maxLength`: IPv4 in the NLRI field, IPv6 in MP_REACH_NLRI (whose
 * `nextHop` must then be given in `base.mpReach`).
 */
export function encodeAnnouncements(
  base: Omit<UpdateSpec, "nlri" | "withdrawn" | "mpUnreach">,
  prefixes: readonly PrefixInput[],
  maxLength = MAX_MESSAGE_LENGTH,
): Uint8Array[] {
  const all = prefixes.map(toPrefix);
  const v6 = all[0]?.afi === Afi.IPV6;
  if (v6 && !base.mpReach) {
    throw new BgpProxyError("internal", "IPv6 announcements need base.mpReach with a next hop");
  }
  const build = (slice: Prefix[]) =>
    v6 && base.mpReach
      ? encodeUpdate({ ...base, mpReach: { ...base.mpReach, nlri: slice } }, maxLength)
      : encodeUpdate({ ...base, nlri: slice }, maxLength);
  const overhead = build([]).length + 2; // + room for an extended attribute length
  const out: Uint8Array[] = [];
  let start = 0;
  while (start < all.length) {
    let size = overhead;
    let end = start;
    while (end < all.length) {
      const p = all[end] as Prefix;
      const add = 1 + ((p.length + 7) >>> 3);
      if (size + add > maxLength) break;
      size += add;
      end++;
    }
    if (end === start) throw new BgpProxyError("internal", "attributes leave no room for NLRI");
    out.push(build(all.slice(start, end)));
    start = end;
  }
  return out;
}
