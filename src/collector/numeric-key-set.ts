/**
 * A set of non-negative integer keys (below 2^52) in one open-addressing Float64Array with
 * linear probing: no object or boxed number per key, 8-16 bytes per key where a JS Set
 * needs several times that, and several times faster to add to. It holds the IPv4 prefix
 * keys of a full table (1M) for the collector and the forwarded-session observer.
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
