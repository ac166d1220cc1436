/**
 * A deterministic, Internet-like routing table for the benchmarks: N IPv4 and M IPv6 unicast
 * prefixes, each with an AS path and RFC 1997 communities, the same for the same seed on any
 * machine. Pure: no I/O (bird-statics.ts writes it for BIRD, update-stream.ts encodes it).
 *
 * What makes it look like a full table:
 * - prefix lengths follow the shape of today's tables (IPv4: 6 in 10 are /24, then /22, /23,
 *   /20, /21, /16 ...; IPv6: half are /48, then /32, /44, /40 ...), addresses are spread over
 *   the unicast space minus private, loopback, CGNAT, link-local, benchmark (198.18/15) and
 *   multicast ranges; prefixes are unique (overlaps, as in real tables, are allowed);
 * - 75,000 origin ASes (16- and 32-bit) chosen with a heavy head (a few ASes originate
 *   thousands of prefixes, most a handful); an origin's path is one of six upstreams, zero to
 *   three transit ASes and the origin, sometimes prepended; a quarter of the prefixes take
 *   another upstream than their origin's usual one (traffic engineering);
 * - communities: an upstream region tag for most prefixes and a per-prefix tag for half of
 *   them, so attribute sets are nearly as varied as in a real feed (BIRD packs few prefixes
 *   per UPDATE, which is what makes a full table ~70-80 MB on the wire).
 *
 * Routes come out of a generator so that 1.2M of them need not be held at once; only the
 * prefix keys are kept, for uniqueness.
 */
import { prng } from "../../test/support/prng.ts";

export interface TableSpec {
  readonly ipv4: number;
  readonly ipv6: number;
  readonly seed: number;
}

export interface TableRoute {
  /** "192.0.2.0/24" or "2001:db8:12::/48". */
  readonly prefix: string;
  readonly v6: boolean;
  /** The AS path as the router learned it, nearest AS first (the router prepends its own). */
  readonly path: readonly number[];
  /** RFC 1997 communities as [AS, value]; AS ≤ 65535. */
  readonly communities: readonly (readonly [number, number])[];
}

/** The full table of the issue: 1,000,000 IPv4 and 200,000 IPv6 prefixes. */
export const FULL_TABLE: TableSpec = { ipv4: 1_000_000, ipv6: 200_000, seed: 20_260_601 };

/** Upstreams of the benchmark router (well-known transit ASes, 16-bit so they fit communities). */
const UPSTREAMS = [174, 3356, 1299, 2914, 6939, 3257] as const;
const ORIGINS = 75_000;
const TRANSITS = 3_000;

/** [prefix length, weight] — the shape of a 2024 full table. */
const V4_LENGTHS: readonly (readonly [number, number])[] = [
  [24, 600],
  [23, 90],
  [22, 110],
  [21, 50],
  [20, 50],
  [19, 30],
  [18, 20],
  [17, 12],
  [16, 25],
  [15, 4],
  [14, 4],
  [13, 2],
  [12, 2],
  [11, 1],
];
const V6_LENGTHS: readonly (readonly [number, number])[] = [
  [48, 550],
  [32, 120],
  [44, 80],
  [40, 60],
  [36, 40],
  [29, 30],
  [46, 30],
  [47, 30],
  [45, 20],
  [42, 20],
  [34, 20],
];
/** First octets never used for IPv4 prefixes. */
const V4_EXCLUDED = new Set([0, 10, 100, 127, 169, 172, 192, 198]);
const V4_FIRST_OCTETS = Array.from({ length: 223 }, (_, i) => i + 1).filter(
  (o) => !V4_EXCLUDED.has(o),
);
/** The top 16 bits of IPv6 allocations (RIR blocks inside 2000::/3). */
const V6_TOP = [0x2001, 0x2400, 0x2401, 0x2402, 0x2403, 0x2600, 0x2602, 0x2604, 0x2a00, 0x2a01];

type Rng = () => number;

function weighted(table: readonly (readonly [number, number])[]): (r: Rng) => number {
  const total = table.reduce((s, [, w]) => s + w, 0);
  return (r) => {
    let x = r() * total;
    for (const [value, w] of table) {
      x -= w;
      if (x < 0) return value;
    }
    return (table.at(-1) as readonly [number, number])[0];
  };
}

const pickV4Length = weighted(V4_LENGTHS);
const pickV6Length = weighted(V6_LENGTHS);

const int = (r: Rng, n: number) => Math.floor(r() * n);

/** A stable 32-bit hash of small integers (for per-origin choices that must not use the stream). */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Origin k's ASN: two thirds 16-bit (1..64495), one third 32-bit (131072..). */
function originAsn(k: number): number {
  return k % 3 === 2 ? 131_072 + ((k * 7) % 270_000) : 1 + ((k * 13) % 64_400);
}

function transitAsn(k: number): number {
  return 1000 + ((k * 37) % 60_000);
}

/** The path of origin k through upstream u: u, 0-3 transits, the origin (maybe prepended). */
function originPath(k: number, u: number): number[] {
  const h = mix(k, u);
  const path: number[] = [u];
  const transits = h % 10 < 3 ? 0 : h % 10 < 7 ? 1 : h % 10 < 9 ? 2 : 3;
  for (let i = 0; i < transits; i++) path.push(transitAsn(mix(h, i) % TRANSITS));
  const origin = originAsn(k);
  path.push(origin);
  if (h % 100 < 8) for (let i = 0; i <= (h >>> 8) % 3; i++) path.push(origin);
  return path;
}

function attributes(r: Rng): Pick<TableRoute, "path" | "communities"> {
  // Heavy head: P(origin < k) = sqrt(k / ORIGINS); the biggest origin holds ~0.4 % of the table.
  const k = Math.floor(ORIGINS * r() ** 2);
  const usual = mix(k, 1) % UPSTREAMS.length;
  const up = r() < 0.25 ? int(r, UPSTREAMS.length) : usual;
  const upstream = UPSTREAMS[up] as number;
  const communities: [number, number][] = [];
  if (r() < 0.9) communities.push([upstream, 2000 + (mix(k, 2) % 16)]);
  if (r() < 0.5) communities.push([upstream, 3000 + int(r, 100)]);
  if (r() < 0.1) communities.push([65_535, 666]);
  return { path: originPath(k, upstream), communities };
}

function v4Prefix(r: Rng): { key: number; text: string } {
  const length = pickV4Length(r);
  const first = V4_FIRST_OCTETS[int(r, V4_FIRST_OCTETS.length)] as number;
  const rest = int(r, 0x1000000);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  const addr = ((first * 0x1000000 + rest) & mask) >>> 0;
  const text = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${length}`;
  return { key: addr * 64 + length, text };
}

function v6Prefix(r: Rng): { key: string; text: string } {
  const length = pickV6Length(r);
  const top = V6_TOP[int(r, V6_TOP.length)] as number;
  // Bits 16..47 (32 bits) below the top, masked to the prefix length.
  const keep = length - 16;
  const below = int(r, 0x100000000);
  const masked = keep >= 32 ? below : Math.floor(below / 2 ** (32 - keep)) * 2 ** (32 - keep);
  const h2 = Math.floor(masked / 0x10000);
  const h3 = masked % 0x10000;
  const text = `${top.toString(16)}:${h2.toString(16)}:${h3.toString(16)}::/${length}`;
  return { key: text, text };
}

/** The table's routes: all IPv4 ones, then all IPv6 ones. Same spec, same routes. */
export function* generateTable(spec: TableSpec): Generator<TableRoute> {
  const r = prng(spec.seed);
  const seen4 = new Set<number>();
  while (seen4.size < spec.ipv4) {
    const p = v4Prefix(r);
    if (seen4.has(p.key)) continue;
    seen4.add(p.key);
    yield { prefix: p.text, v6: false, ...attributes(r) };
  }
  seen4.clear();
  const seen6 = new Set<string>();
  const r6 = prng(spec.seed ^ 0x5bd1e995);
  while (seen6.size < spec.ipv6) {
    const p = v6Prefix(r6);
    if (seen6.has(p.key)) continue;
    seen6.add(p.key);
    yield { prefix: p.text, v6: true, ...attributes(r6) };
  }
}

/** "1.0M IPv4 + 200k IPv6" */
export function describeTable(spec: TableSpec): string {
  const n = (x: number) =>
    x >= 1_000_000 ? `${x / 1_000_000}M` : x >= 1000 ? `${x / 1000}k` : String(x);
  return `${n(spec.ipv4)} IPv4 + ${n(spec.ipv6)} IPv6`;
}
