import { AttrFlag, AttrType } from "../bgp/constants.ts";
import { formatIpv4, formatIpv6 } from "../bgp/ip-address.ts";
import { type AsPathSegment, decodeAsPath, flattenAsPath } from "../bgp/path-attribute.ts";
import type { DecodedUpdate } from "../bgp/update.ts";

/**
 * The attribute set a route is stored with, as bytes (what AttributeStore interns):
 *
 *   [next hop length: 1][MP_REACH next hop octets][path attributes, wire format]
 *
 * The next hop octets are MP_REACH_NLRI's (empty for IPv4 NLRI, whose next hop is the
 * NEXT_HOP attribute). The attributes are the UPDATE's valid ones minus MP_REACH/
 * MP_UNREACH, in order, with AS_PATH and AGGREGATOR in 4-octet form (converted when the
 * session has 2-octet ASNs), so that MRT (RFC 6396 §4.3.4) and BMP can use them as they are.
 */

const u32 = (b: Uint8Array, i: number): number =>
  (b[i] as number) * 0x1000000 +
  (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number));

/** A reusable output buffer for `buildStoredAttributes`. */
export class Scratch {
  buf = new Uint8Array(4096);
  ensure(n: number): void {
    if (n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(n, this.buf.length * 2));
    next.set(this.buf);
    this.buf = next;
  }
}

function writeHeader(out: Uint8Array, pos: number, flags: number, type: number, len: number) {
  if (len > 255) {
    out[pos] = flags | AttrFlag.EXTENDED_LENGTH;
    out[pos + 1] = type;
    out[pos + 2] = len >>> 8;
    out[pos + 3] = len & 0xff;
    return pos + 4;
  }
  out[pos] = flags & ~AttrFlag.EXTENDED_LENGTH;
  out[pos + 1] = type;
  out[pos + 2] = len;
  return pos + 3;
}

/** Copy a 2-octet-AS value (AS_PATH segments, or AGGREGATOR) out in 4-octet form. */
function widen(
  body: Uint8Array,
  v: number,
  length: number,
  type: number,
  out: Uint8Array,
  pos: number,
): number {
  if (type === AttrType.AGGREGATOR) {
    out[pos] = 0;
    out[pos + 1] = 0;
    out.set(body.subarray(v, v + 6), pos + 2);
    return pos + 8;
  }
  let p = v;
  const end = v + length;
  while (p + 2 <= end) {
    const count = body[p + 1] as number;
    out[pos++] = body[p] as number;
    out[pos++] = count;
    p += 2;
    for (let i = 0; i < count && p + 2 <= end; i++, p += 2) {
      out[pos++] = 0;
      out[pos++] = 0;
      out[pos++] = body[p] as number;
      out[pos++] = body[p + 1] as number;
    }
  }
  return pos;
}

/**
 * Write the stored form of `update`'s attributes with the MP_REACH next hop at
 * body[nextHopStart, +nextHopLength) (length 0 for IPv4 NLRI) into `scratch`; returns its length.
 */
export function buildStoredAttributes(
  update: DecodedUpdate,
  nextHopStart: number,
  nextHopLength: number,
  scratch: Scratch,
): number {
  const body = update.body;
  scratch.ensure(1 + nextHopLength + body.length * 2 + 16);
  const out = scratch.buf;
  out[0] = nextHopLength;
  out.set(body.subarray(nextHopStart, nextHopStart + nextHopLength), 1);
  let pos = 1 + nextHopLength;
  const narrow = !update.options.fourOctetAs;
  for (const a of update.attributes) {
    if (!a.valid || a.type === AttrType.MP_REACH_NLRI || a.type === AttrType.MP_UNREACH_NLRI) {
      continue;
    }
    if (narrow && (a.type === AttrType.AS_PATH || a.type === AttrType.AGGREGATOR)) {
      const valueAt = pos + 4;
      const end = widen(body, a.offset, a.length, a.type, out, valueAt);
      const len = end - valueAt;
      const start = writeHeader(out, pos, a.flags, a.type, len);
      out.copyWithin(start, valueAt, end);
      pos = start + len;
      continue;
    }
    out.set(body.subarray(a.start, a.offset + a.length), pos);
    pos += a.offset + a.length - a.start;
  }
  return pos;
}

/** Visit each attribute of a stored set: type, flags, value offset and length in `set`. */
export function forEachStoredAttribute(
  set: Uint8Array,
  visit: (type: number, flags: number, offset: number, length: number, start: number) => void,
): void {
  let pos = 1 + (set[0] as number);
  while (pos + 3 <= set.length) {
    const flags = set[pos] as number;
    const type = set[pos + 1] as number;
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    const len = ext
      ? ((set[pos + 2] as number) << 8) | (set[pos + 3] as number)
      : (set[pos + 2] as number);
    const offset = pos + (ext ? 4 : 3);
    visit(type, flags, offset, len, pos);
    pos = offset + len;
  }
}

/** The path attributes only (wire format), without the stored next hop prefix. */
export function storedPathAttributes(set: Uint8Array): Uint8Array {
  return set.subarray(1 + (set[0] as number));
}

/** The MP_REACH next hop octets (empty for IPv4 NLRI). */
export function storedMpNextHop(set: Uint8Array): Uint8Array {
  return set.subarray(1, 1 + (set[0] as number));
}

/** A route's attributes as JSON-friendly values (the API's view). */
export interface RouteAttributesView {
  origin?: "igp" | "egp" | "incomplete";
  asPath: number[];
  /** Present when the path has AS_SET or confederation segments. */
  asPathSegments?: AsPathSegment[];
  nextHop?: string;
  /** The link-local next hop of an IPv6 route, when sent. */
  nextHopLinkLocal?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: true;
  aggregator?: { asn: number; address: string };
  /** RFC 1997 as "AS:value". */
  communities?: string[];
  /** RFC 4360 as 16 hex digits. */
  extendedCommunities?: string[];
  /** RFC 8092 as "global:local1:local2". */
  largeCommunities?: string[];
  originatorId?: string;
  clusterList?: string[];
  /** Other attributes by type code, as hex. */
  other?: { type: number; flags: number; value: string }[];
}

const ORIGINS = ["igp", "egp", "incomplete"] as const;

function hexOf(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Decode a stored set into its view. */
export function storedAttributesView(set: Uint8Array): RouteAttributesView {
  const view: RouteAttributesView = { asPath: [] };
  const nhLen = set[0] as number;
  if (nhLen === 4) view.nextHop = formatIpv4(set, 1);
  else if (nhLen >= 16) {
    view.nextHop = formatIpv6(set, 1);
    if (nhLen === 32) view.nextHopLinkLocal = formatIpv6(set, 17);
  }
  forEachStoredAttribute(set, (type, flags, v, len) => {
    switch (type) {
      case AttrType.ORIGIN:
        view.origin = ORIGINS[set[v] as number] ?? "incomplete";
        break;
      case AttrType.AS_PATH: {
        const segments = decodeAsPath(set.subarray(v, v + len), 4);
        view.asPath = flattenAsPath(segments);
        if (segments.some((s) => s.type !== 2)) view.asPathSegments = segments;
        break;
      }
      case AttrType.NEXT_HOP:
        if (nhLen === 0) view.nextHop = formatIpv4(set, v);
        break;
      case AttrType.MULTI_EXIT_DISC:
        view.med = u32(set, v);
        break;
      case AttrType.LOCAL_PREF:
        view.localPref = u32(set, v);
        break;
      case AttrType.ATOMIC_AGGREGATE:
        view.atomicAggregate = true;
        break;
      case AttrType.AGGREGATOR:
        view.aggregator = { asn: u32(set, v), address: formatIpv4(set, v + 4) };
        break;
      case AttrType.COMMUNITIES: {
        const c: string[] = [];
        for (let i = 0; i + 4 <= len; i += 4) {
          c.push(
            `${((set[v + i] as number) << 8) | (set[v + i + 1] as number)}:${((set[v + i + 2] as number) << 8) | (set[v + i + 3] as number)}`,
          );
        }
        view.communities = c;
        break;
      }
      case AttrType.EXTENDED_COMMUNITIES: {
        const c: string[] = [];
        for (let i = 0; i + 8 <= len; i += 8) c.push(hexOf(set.subarray(v + i, v + i + 8)));
        view.extendedCommunities = c;
        break;
      }
      case AttrType.LARGE_COMMUNITIES: {
        const c: string[] = [];
        for (let i = 0; i + 12 <= len; i += 12) {
          c.push(`${u32(set, v + i)}:${u32(set, v + i + 4)}:${u32(set, v + i + 8)}`);
        }
        view.largeCommunities = c;
        break;
      }
      case AttrType.ORIGINATOR_ID:
        view.originatorId = formatIpv4(set, v);
        break;
      case AttrType.CLUSTER_LIST: {
        const c: string[] = [];
        for (let i = 0; i + 4 <= len; i += 4) c.push(formatIpv4(set, v + i));
        view.clusterList = c;
        break;
      }
      default:
        view.other ??= [];
        view.other.push({ type, flags, value: hexOf(set.subarray(v, v + len)) });
    }
  });
  return view;
}
