import { Afi } from "../bgp/constants.ts";
import { ipv4PrefixKey, ipv6PrefixKey } from "../bgp/prefix.ts";

/**
 * The prefixes a router currently announces on a forwarded session, for the observer's
 * exact counts. Runs for every announced prefix, so IPv4 prefixes (most of a table) go in an
 * open-addressing hash set of numeric keys in one Float64Array: no object, string or
 * boxed number per prefix, 8-16 bytes per prefix instead of a Set's entry. IPv6 keeps the
 * short-string keys of ipv6PrefixKey in a Set.
 */
const EMPTY = 0;
const TOMBSTONE = -1;
const INITIAL_BITS = 10;

export class NumericKeySet {
  private keys = new Float64Array(1 << INITIAL_BITS);
  private bits = INITIAL_BITS;
  /** Live keys plus tombstones: what decides when to grow. */
  private used = 0;
  size = 0;

  /** `key` is a non-negative integer below 2^52 (0 is stored as 2^52, never as EMPTY). */
  add(key: number): void {
    const k = key === 0 ? 2 ** 52 : key;
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.slot(k);
    let tomb = -1;
    for (;;) {
      const at = keys[i] as number;
      if (at === EMPTY) break;
      if (at === k) return;
      if (at === TOMBSTONE && tomb < 0) tomb = i;
      i = (i + 1) & mask;
    }
    this.size++;
    if (tomb >= 0) {
      keys[tomb] = k;
      return;
    }
    keys[i] = k;
    this.used++;
    if (this.used * 2 > keys.length) this.rehash(this.size * 4 > keys.length ? 1 : 0);
  }

  delete(key: number): void {
    const k = key === 0 ? 2 ** 52 : key;
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.slot(k);
    for (;;) {
      const at = keys[i] as number;
      if (at === EMPTY) return;
      if (at === k) {
        keys[i] = TOMBSTONE;
        this.size--;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  has(key: number): boolean {
    const k = key === 0 ? 2 ** 52 : key;
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let i = this.slot(k); ; i = (i + 1) & mask) {
      const at = keys[i] as number;
      if (at === EMPTY) return false;
      if (at === k) return true;
    }
  }

  clear(): void {
    this.keys = new Float64Array(1 << INITIAL_BITS);
    this.bits = INITIAL_BITS;
    this.used = 0;
    this.size = 0;
  }

  private slot(k: number): number {
    const lo = k >>> 0;
    const hi = (k / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits);
  }

  /** Rebuild without tombstones, `grow` bits larger. */
  private rehash(grow: number): void {
    const old = this.keys;
    this.bits += grow;
    this.keys = new Float64Array(1 << this.bits);
    this.used = 0;
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j] as number;
      if (k === EMPTY || k === TOMBSTONE) continue;
      let i = this.slot(k);
      while (keys[i] !== EMPTY) i = (i + 1) & mask;
      keys[i] = k;
      this.used++;
    }
  }
}

export class ObservedPrefixes {
  private readonly v4 = new NumericKeySet();
  private readonly v6 = new Set<string>();

  get ipv4(): number {
    return this.v4.size;
  }

  get ipv6(): number {
    return this.v6.size;
  }

  add(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) this.v4.add(ipv4PrefixKey(length, buf, offset));
    else if (afi === Afi.IPV6) this.v6.add(ipv6PrefixKey(length, buf, offset));
  }

  remove(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) this.v4.delete(ipv4PrefixKey(length, buf, offset));
    else if (afi === Afi.IPV6) this.v6.delete(ipv6PrefixKey(length, buf, offset));
  }

  clear(): void {
    this.v4.clear();
    this.v6.clear();
  }
}
