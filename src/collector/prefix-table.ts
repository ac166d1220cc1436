import { Afi } from "../bgp/constants.ts";
import { ipv6PrefixKey, parsePrefix } from "../bgp/prefix.ts";
import { PairKeySet } from "./pair-key-set.ts";
import type { QueuedKeySet } from "./queued-key-set.ts";
import { WordKeySet } from "./word-key-set.ts";

/**
 * The set of prefixes a peer currently announces, per family, exact and compact: one set
 * per prefix length, keyed by the prefix's significant bits in typed arrays (no object per
 * prefix). IPv4 and IPv6 up to /16 use a WordKeySet (a small hash, then a bucket set or a
 * bitmap: a full table's 600k /24s take about 1 MiB). IPv6 /17 to /48 are split by their top 16
 * bits (the few RIR blocks a table's addresses come from: `v6split`), each part a WordKeySet
 * of the remaining bits (4 bytes a slot, where one set of the whole key would take a
 * PairKeySet's 8: a full table's 110k /48s take 0.6 MiB instead of 2). IPv6 /49 to /64 use a
 * PairKeySet, longer IPv6 prefixes (rare) a Set of short strings. A set exists only for the
 * lengths (and top 16 bits) seen, so 1,000 sessions of 1,000 prefixes cost a few KiB each.
 * Adding a held prefix or removing an unknown one changes nothing. Adds to a large set may be
 * queued (the key sets' `addLater`): every read (counts, `has`, `bytes`) and every removal
 * sees them applied, in order.
 */
export class PrefixTable {
  private v4: (WordKeySet | undefined)[] = [];
  private v6short: (WordKeySet | undefined)[] = [];
  /** IPv6 /17 to /48 by length, then by the top 16 bits: a set of the remaining length − 16 bits. */
  private v6split: (Map<number, WordKeySet> | undefined)[] = [];
  private v6pairs: (PairKeySet | undefined)[] = [];
  private v6long = new Set<string>();
  /** Prefixes held, apart from the keys still queued in the sets listed in `queued4/6`. */
  private counted4 = 0;
  private counted6 = 0;
  /** Sets that may hold queued keys (their `addLater` queued one). */
  private queued4: QueuedKeySet[] = [];
  private queued6: QueuedKeySet[] = [];

  /** IPv4 prefixes held. */
  get ipv4(): number {
    if (this.queued4.length !== 0) this.settle();
    return this.counted4;
  }

  /** IPv6 prefixes held. */
  get ipv6(): number {
    if (this.queued6.length !== 0) this.settle();
    return this.counted6;
  }

  /**
   * Apply every queued key, counting the new ones. A set may be listed more than once (it
   * queued again after a removal flushed it): the lists grow by at most one entry per
   * removal between two reads.
   */
  private settle(): void {
    for (const s of this.queued4) this.counted4 += s.flush();
    for (const s of this.queued6) this.counted6 += s.flush();
    this.queued4.length = 0;
    this.queued6.length = 0;
  }

  /** Bytes held by the key storage (not counting the few objects around it). */
  get bytes(): number {
    this.settle();
    let n = 0;
    for (const s of this.v4) n += s?.bytes ?? 0;
    for (const s of this.v6short) n += s?.bytes ?? 0;
    for (const parts of this.v6split) if (parts) for (const s of parts.values()) n += s.bytes;
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
      if (length <= 32)
        this.counted4 += addKey(
          wordSet(this.v4, length),
          this.queued4,
          topBits(length, buf, offset),
        );
    } else if (afi === Afi.IPV6) {
      if (length <= 16) {
        const set = wordSet(this.v6short, length);
        this.counted6 += addKey(set, this.queued6, topBits(length, buf, offset));
      } else if (length <= 48) {
        const set = this.splitPart(length, buf, offset, true) as WordKeySet;
        this.counted6 += addKey(set, this.queued6, topBits(length - 16, buf, offset + 2));
      } else if (length <= 64) {
        let set = this.v6pairs[length];
        if (!set) {
          set = new PairKeySet();
          this.v6pairs[length] = set;
        }
        const pending = set.pending;
        this.counted6 += set.addLater(
          topBits(32, buf, offset),
          topBits(length - 32, buf, offset + 4),
        );
        if (!pending && set.pending) this.queued6.push(set);
      } else if (length <= 128) {
        const key = ipv6PrefixKey(length, buf, offset);
        if (!this.v6long.has(key)) {
          this.v6long.add(key);
          this.counted6++;
        }
      }
    }
  }

  /** Remove the prefix whose octets start at buf[offset], if held. */
  remove(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) {
      if (length <= 32) this.counted4 += removeKey(this.v4[length], topBits(length, buf, offset));
    } else if (afi === Afi.IPV6) {
      if (length <= 16) {
        this.counted6 += removeKey(this.v6short[length], topBits(length, buf, offset));
      } else if (length <= 48) {
        const set = this.splitPart(length, buf, offset, false);
        this.counted6 += removeKey(set, topBits(length - 16, buf, offset + 2));
      } else if (length <= 64) {
        const set = this.v6pairs[length];
        if (!set) return;
        this.counted6 += set.flush();
        if (set.delete(topBits(32, buf, offset), topBits(length - 32, buf, offset + 4)))
          this.counted6--;
      } else if (this.v6long.delete(ipv6PrefixKey(length, buf, offset))) {
        this.counted6--;
      }
    }
  }

  /** Whether "10.0.0.0/8" or "2001:db8::/32" is held. */
  has(prefix: string): boolean {
    const { afi, length, bytes } = parsePrefix(prefix);
    this.settle();
    if (afi === Afi.IPV4) return this.v4[length]?.has(topBits(length, bytes, 0)) ?? false;
    if (length <= 16) return this.v6short[length]?.has(topBits(length, bytes, 0)) ?? false;
    if (length <= 48) {
      const set = this.splitPart(length, bytes, 0, false);
      return set?.has(topBits(length - 16, bytes, 2)) ?? false;
    }
    if (length <= 64) {
      const set = this.v6pairs[length];
      return set?.has(topBits(32, bytes, 0), topBits(length - 32, bytes, 4)) ?? false;
    }
    return this.v6long.has(ipv6PrefixKey(length, bytes, 0));
  }

  /**
   * The WordKeySet of the IPv6 prefixes of `length` (17 to 48) whose top 16 bits are those at
   * buf[offset]; made if missing and `make`, else undefined.
   */
  private splitPart(
    length: number,
    buf: Uint8Array,
    offset: number,
    make: boolean,
  ): WordKeySet | undefined {
    let parts = this.v6split[length];
    if (!parts) {
      if (!make) return undefined;
      parts = new Map();
      this.v6split[length] = parts;
    }
    const top = ((buf[offset] as number) << 8) | (buf[offset + 1] as number);
    let set = parts.get(top);
    if (!set && make) {
      set = new WordKeySet(length - 16);
      parts.set(top, set);
    }
    return set;
  }

  /** Forget everything (the session ended). */
  clear(): void {
    this.v4 = [];
    this.v6short = [];
    this.v6split = [];
    this.v6pairs = [];
    this.v6long = new Set();
    this.counted4 = 0;
    this.counted6 = 0;
    this.queued4 = [];
    this.queued6 = [];
  }
}

/** The word set of prefixes of `length` in `sets` (one per length), made if missing. */
function wordSet(sets: (WordKeySet | undefined)[], length: number): WordKeySet {
  let set = sets[length];
  if (!set) {
    set = new WordKeySet(length);
    sets[length] = set;
  }
  return set;
}

/**
 * Add `key` to `set`; a set that starts queueing is listed in `queued`. Returns the change in
 * the family's count.
 */
function addKey(set: WordKeySet, queued: QueuedKeySet[], key: number): number {
  const pending = set.pending;
  const added = set.addLater(key);
  if (!pending && set.pending) queued.push(set);
  return added;
}

/** Remove `key` from `set`, if held; returns the change in the family's count. */
function removeKey(set: WordKeySet | undefined, key: number): number {
  if (!set) return 0;
  const added = set.flush();
  return set.delete(key) ? added - 1 : added;
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
