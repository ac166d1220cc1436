import { Afi, Origin } from "../bgp/constants.ts";
import { encodeAnnouncements, encodeEndOfRib, encodeUpdate } from "../bgp/update-encoder.ts";

/**
 * The demo router's routing table (pure): a small generated table of IPv4 /24s in
 * 10.0.0.0/8 and IPv6 /48s in 2001:db8::/32, with varied AS paths and communities, as
 * BGP UPDATE messages, plus "churn": each round withdraws one slice of the table and
 * announces the slice withdrawn the round before, so the counts on the status page move.
 */
export interface DemoTableSpec {
  /** IPv4 prefixes (at most 65536). */
  readonly ipv4: number;
  /** IPv6 prefixes (at most 65536). */
  readonly ipv6: number;
  /** The demo router's ASN: first on every AS path. */
  readonly asn: number;
  /** IPv4 next hop (the router's own address). */
  readonly nextHop: string;
  /** Prefixes of each family withdrawn per churn round. */
  readonly churnSlice: number;
}

export const DEMO_TABLE: Omit<DemoTableSpec, "nextHop"> = {
  ipv4: 1000,
  ipv6: 200,
  asn: 65001,
  churnSlice: 50,
};

const IPV6_NEXT_HOP = "2001:db8:ffff::1";
/** Upstream ASes the generated paths go through (documentation range, RFC 5398). */
const UPSTREAMS = [64496, 64497, 64498, 64499, 64500, 64501, 64502, 64503];

function ipv4Prefix(i: number): string {
  return `10.${(i >> 8) & 255}.${i & 255}.0/24`;
}

function ipv6Prefix(i: number): string {
  return `2001:db8:${i.toString(16)}::/48`;
}

/** Prefix i's path: the router, one upstream, and 0..2 further hops by index. */
function asPath(asn: number, i: number): number[] {
  const upstream = UPSTREAMS[i % UPSTREAMS.length] ?? 64496;
  const tail = [64505, 64506].slice(0, i % 3);
  return [asn, upstream, ...tail];
}

function pathKey(i: number): number {
  return (i % UPSTREAMS.length) * 3 + (i % 3);
}

/** Announcements of prefixes `indexes` of one family, grouped by path into few UPDATEs. */
function announce(spec: DemoTableSpec, afi: Afi, indexes: readonly number[]): Uint8Array[] {
  const groups = new Map<number, number[]>();
  for (const i of indexes) {
    const key = pathKey(i);
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  }
  const out: Uint8Array[] = [];
  for (const group of groups.values()) {
    const first = group[0] ?? 0;
    const base = {
      origin: Origin.IGP,
      asPath: asPath(spec.asn, first),
      communities: [`${spec.asn}:${100 + (first % UPSTREAMS.length)}`],
    };
    if (afi === Afi.IPV4) {
      out.push(...encodeAnnouncements({ ...base, nextHop: spec.nextHop }, group.map(ipv4Prefix)));
    } else {
      const mpReach = { nextHop: IPV6_NEXT_HOP, nlri: [] };
      out.push(...encodeAnnouncements({ ...base, mpReach }, group.map(ipv6Prefix)));
    }
  }
  return out;
}

function withdraw(afi: Afi, indexes: readonly number[]): Uint8Array[] {
  if (indexes.length === 0) return [];
  // A few hundred prefixes fit easily in one 4096-octet UPDATE: split to be safe.
  const out: Uint8Array[] = [];
  for (let at = 0; at < indexes.length; at += 500) {
    const slice = indexes.slice(at, at + 500);
    out.push(
      afi === Afi.IPV4
        ? encodeUpdate({ withdrawn: slice.map(ipv4Prefix) })
        : encodeUpdate({ mpUnreach: { afi: Afi.IPV6, withdrawn: slice.map(ipv6Prefix) } }),
    );
  }
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The whole table, then an End-of-RIB for each family. */
export function initialTable(spec: DemoTableSpec): Uint8Array[] {
  return [
    ...announce(spec, Afi.IPV4, range(spec.ipv4)),
    ...announce(spec, Afi.IPV6, range(spec.ipv6)),
    encodeEndOfRib(Afi.IPV4),
    encodeEndOfRib(Afi.IPV6),
  ];
}

/** Slice `round` of a family of `size` prefixes (rounds wrap around the table). */
function slice(size: number, sliceSize: number, round: number): number[] {
  if (size === 0 || sliceSize <= 0) return [];
  const n = Math.min(sliceSize, size);
  const slices = Math.ceil(size / n);
  const start = (round % slices) * n;
  return range(Math.min(n, size - start)).map((k) => start + k);
}

/**
 * Churn round `round` (1, 2, ...): announce again slice `round - 1`, then withdraw slice
 * `round`. After any round the table lacks exactly one slice per family.
 */
export function churnRound(spec: DemoTableSpec, round: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [afi, size] of [
    [Afi.IPV4, spec.ipv4],
    [Afi.IPV6, spec.ipv6],
  ] as const) {
    if (round > 1) out.push(...announce(spec, afi, slice(size, spec.churnSlice, round - 1)));
    out.push(...withdraw(afi, slice(size, spec.churnSlice, round)));
  }
  return out;
}
