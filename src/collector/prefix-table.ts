import { Afi } from "../bgp/constants.ts";
import { ipv6PrefixKey, parsePrefix } from "../bgp/prefix.ts";
import { PairKeySet } from "./pair-key-set.ts";
import { WordKeySet } from "./word-key-set.ts";

/**
 * The set of prefixes a peer currently announces, per family, exact and compact: one set
 * per prefix length, keyed by the prefix's significant bits in typed arrays (no object per
 * prefix). IPv4 and IPv6 up to /32 use a WordKeySet (a small hash, a bitmap once that is
 * smaller: a full table's 600k /24s take 2 MiB), IPv6 /33 to /64 a PairKeySet, longer IPv6
 * prefixes (rare) a Set of short strings. A set exists only for the lengths seen, so 1,000
 * sessions of 1,000 prefixes cost a few KiB each. Adding a held prefix or removing an
 * unknown one changes nothing.
 */
export class PrefixTable {
  private v4: (WordKeySet | undefined)[] = [];
  private v6short: (WordKeySet | undefined)[] = [];
  private v6pairs: (PairKeySet | undefined)[] = [];
  private v6long = new Set<string>();
  /** IPv4 prefixes held. */
  ipv4 = 0;
  /** IPv6 prefixes held. */
  ipv6 = 0;

  /** Bytes held by the key storage (not counting the few objects around it). */
  get bytes(): number {
    let n = 0;
    for (const s of this.v4) n += s?.bytes ?? 0;
    for (const s of this.v6short) n += s?.bytes ?? 0;
    for (const s of this.v6pairs) n += s?.bytes ?? 0;
    for (const k of this.v6long) n += 2 * k.length;
    return n;
  }

  /**
   * Add the prefix of `length` bits whose octets start at buf[offset] (only its
   * ceil(length / 8) octets are read; bits past the length are ignored). Ignores families
   * other than IPv4/IPv6 and lengths beyond the family's.
   */
  add(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) {
      if (length > 32) return;
      const set = this.v4[length] ?? this.newWordSet(this.v4, length);
      if (set.add(topBits(length, buf, offset))) this.ipv4++;
    } else if (afi === Afi.IPV6) {
      if (length <= 32) {
        const set = this.v6short[length] ?? this.newWordSet(this.v6short, length);
        if (set.add(topBits(length, buf, offset))) this.ipv6++;
      } else if (length <= 64) {
        let set = this.v6pairs[length];
        if (!set) {
          set = new PairKeySet();
          this.v6pairs[length] = set;
        }
        if (set.add(topBits(32, buf, offset), topBits(length - 32, buf, offset + 4))) this.ipv6++;
      } else if (length <= 128) {
        const key = ipv6PrefixKey(length, buf, offset);
        if (!this.v6long.has(key)) {
          this.v6long.add(key);
          this.ipv6++;
        }
      }
    }
  }

  /** Remove the prefix whose octets start at buf[offset], if held. */
  remove(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) {
      if (this.v4[length]?.delete(topBits(length, buf, offset))) this.ipv4--;
    } else if (afi === Afi.IPV6) {
      if (length <= 32) {
        if (this.v6short[length]?.delete(topBits(length, buf, offset))) this.ipv6--;
      } else if (length <= 64) {
        const set = this.v6pairs[length];
        if (set?.delete(topBits(32, buf, offset), topBits(length - 32, buf, offset + 4)))
          this.ipv6--;
      } else if (this.v6long.delete(ipv6PrefixKey(length, buf, offset))) {
        this.ipv6--;
      }
    }
  }

  /** Whether "10.0.0.0/8" or "2001:db8::/32" is held. */
  has(prefix: string): boolean {
    const { afi, length, bytes } = parsePrefix(prefix);
    if (afi === Afi.IPV4) return this.v4[length]?.has(topBits(length, bytes, 0)) ?? false;
    if (length <= 32) return this.v6short[length]?.has(topBits(length, bytes, 0)) ?? false;
    if (length <= 64) {
      const set = this.v6pairs[length];
      return set?.has(topBits(32, bytes, 0), topBits(length - 32, bytes, 4)) ?? false;
    }
    return this.v6long.has(ipv6PrefixKey(length, bytes, 0));
  }

  /** Forget everything (the session ended). */
  clear(): void {
    this.v4 = [];
    this.v6short = [];
    this.v6pairs = [];
    this.v6long = new Set();
    this.ipv4 = 0;
    this.ipv6 = 0;
  }

  private newWordSet(sets: (WordKeySet | undefined)[], length: number): WordKeySet {
    const set = new WordKeySet(length);
    sets[length] = set;
    return set;
  }
}

/**
 * The first `bits` (0..32) bits at buf[offset] as an unsigned integer below 2^bits, reading
 * only the ceil(bits / 8) octets they occupy.
 */
function topBits(bits: number, buf: Uint8Array, offset: number): number {
  if (bits === 0) return 0;
  let word = (buf[offset] as number) << 24;
  if (bits > 8) word |= (buf[offset + 1] as number) << 16;
  if (bits > 16) word |= (buf[offset + 2] as number) << 8;
  if (bits > 24) word |= buf[offset + 3] as number;
  return word >>> (32 - bits);
}
