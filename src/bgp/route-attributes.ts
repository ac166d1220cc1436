import { AttrType } from "./constants.ts";
import { formatIpv4, formatIpv6 } from "./ip-address.ts";
import { type AsPathSegment, decodeAsPath, flattenAsPath } from "./path-attribute.ts";
import type { DecodedUpdate } from "./update.ts";

/**
 * The values of an UPDATE's well-known attributes, decoded into plain data. This
 * allocates, so the prefix-counting path does not use it; it is for logs, tools and
 * tests. Attributes found malformed are left out.
 */
export interface PathAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  /** Every ASN of AS_PATH in order. */
  asPathList?: number[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate: boolean;
  aggregator?: { asn: number; address: string };
  communities?: number[];
  largeCommunities?: [number, number, number][];
  extendedCommunities?: Uint8Array[];
  originatorId?: string;
  clusterList?: string[];
  as4Path?: AsPathSegment[];
  /** MP_REACH_NLRI next hops: one address, or global and link-local for IPv6. */
  mpNextHops?: string[];
  /** Attributes this module does not interpret: type, flags, value (copied). */
  other: { type: number; flags: number; value: Uint8Array }[];
}

const u32 = (b: Uint8Array, i: number): number =>
  (b[i] as number) * 0x1000000 +
  (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number));

/** Decode the valid attributes of a decoded UPDATE into plain values. */
export function decodePathAttributes(update: DecodedUpdate): PathAttributes {
  const out: PathAttributes = { atomicAggregate: false, other: [] };
  const body = update.body;
  const asSize = update.options.fourOctetAs ? 4 : 2;
  for (const a of update.attributes) {
    if (!a.valid) continue;
    const v = a.offset;
    const value = body.subarray(v, v + a.length);
    switch (a.type) {
      case AttrType.ORIGIN:
        out.origin = body[v] as number;
        break;
      case AttrType.AS_PATH:
        out.asPath = decodeAsPath(value, asSize);
        out.asPathList = flattenAsPath(out.asPath);
        break;
      case AttrType.NEXT_HOP:
        out.nextHop = formatIpv4(body, v);
        break;
      case AttrType.MULTI_EXIT_DISC:
        out.med = u32(body, v);
        break;
      case AttrType.LOCAL_PREF:
        out.localPref = u32(body, v);
        break;
      case AttrType.ATOMIC_AGGREGATE:
        out.atomicAggregate = true;
        break;
      case AttrType.AGGREGATOR:
        out.aggregator =
          asSize === 4
            ? { asn: u32(body, v), address: formatIpv4(body, v + 4) }
            : {
                asn: ((body[v] as number) << 8) | (body[v + 1] as number),
                address: formatIpv4(body, v + 2),
              };
        break;
      case AttrType.COMMUNITIES:
        out.communities = [];
        for (let i = 0; i < a.length; i += 4) out.communities.push(u32(body, v + i));
        break;
      case AttrType.LARGE_COMMUNITIES:
        out.largeCommunities = [];
        for (let i = 0; i < a.length; i += 12) {
          out.largeCommunities.push([u32(body, v + i), u32(body, v + i + 4), u32(body, v + i + 8)]);
        }
        break;
      case AttrType.EXTENDED_COMMUNITIES:
        out.extendedCommunities = [];
        for (let i = 0; i < a.length; i += 8) out.extendedCommunities.push(value.slice(i, i + 8));
        break;
      case AttrType.ORIGINATOR_ID:
        out.originatorId = formatIpv4(body, v);
        break;
      case AttrType.CLUSTER_LIST:
        out.clusterList = [];
        for (let i = 0; i < a.length; i += 4) out.clusterList.push(formatIpv4(body, v + i));
        break;
      case AttrType.AS4_PATH:
        if (!update.options.fourOctetAs) out.as4Path = decodeAsPath(value, 4);
        break;
      case AttrType.MP_REACH_NLRI: {
        const mp = update.mpReach;
        if (mp?.parsed) out.mpNextHops = nextHops(body, mp.nextHopStart, mp.nextHopLength);
        break;
      }
      case AttrType.MP_UNREACH_NLRI:
        break;
      default:
        out.other.push({ type: a.type, flags: a.flags, value: value.slice() });
    }
  }
  return out;
}

function nextHops(body: Uint8Array, start: number, length: number): string[] {
  if (length === 4) return [formatIpv4(body, start)];
  const hops = [formatIpv6(body, start)];
  if (length === 32) hops.push(formatIpv6(body, start + 16));
  return hops;
}
