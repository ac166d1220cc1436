/**
 * Prefix → 32-bit value for one address family, in typed arrays: an open-addressing hash
 * table (linear probing, backward-shift deletion) keyed by (masked address, length). An
 * IPv4 slot costs 9 bytes, an IPv6 slot 21; the table stays between 3/8 and 3/4 full, so a
 * route costs 12-24 (IPv4) or 28-56 (IPv6) bytes and no object. Longest-prefix match probes
 * only the lengths the table holds, longest first (a hash per length, as in "binary search
 * on prefix lengths" without the markers).
 *
 * The key is passed in `key` (one 32-bit word for IPv4, four for IPv6, big-endian word
 * order); callers fill it, then call the method. Host bits must already be clear (see
 * `loadKey`).
 */
const EMPTY = 255;

/** Network mask word for bit `wordIndex` of a prefix of `length`. */
export function maskWord(length: number, wordIndex: number): number {
  const bits = length - wordIndex * 32;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * The IPv4 per-/16 length bits (`lengthsAt`, 256 KiB) are kept only from this many slots
 * on: about a full table's share, where they double the lookups per second. Below it,
 * longest match probes the lengths held. Kept for every map, the array cost each built-in
 * collector session 256 KiB once a resize filled it: 1,000 sessions of 1,000 routes took the
 * gateway from ~310 to ~510 MiB (DEVELOPERS.md, "Session scale: the collector's RIB
 * (session 8)").
 */
export const LENGTHS_AT_FROM = 32_768;

/** IPv4 network masks by prefix length. */
const MASKS4 = Uint32Array.from({ length: 33 }, (_, n) => maskWord(n, 0));

/** Note a prefix of `length` at `addr` in the per-/16 length bits. */
function markLength(lengthsAt: Uint32Array, addr: number, length: number): void {
  if (length === 0) return;
  const bit = 1 << (length - 1);
  const first = addr >>> 16;
  const count = length >= 16 ? 1 : 1 << (16 - length);
  for (let b = first; b < first + count; b++) lengthsAt[b] = (lengthsAt[b] as number) | bit;
}

export class PrefixMap {
  /** The key of the next call, filled by the caller. */
  readonly key: Uint32Array;
  readonly words: 1 | 4;
  readonly maxLength: number;
  private keys: Uint32Array;
  private lens: Uint8Array;
  private vals: Uint32Array;
  private mask: number;
  private count = 0;
  /** How many prefixes of each length are held. */
  private readonly perLength: Uint32Array;
  private readonly probe: Uint32Array;
  /**
   * IPv4 only, from LENGTHS_AT_FROM slots on: per /16 of the address space, a bit per prefix
   * length 1..32 (bit len-1) that may be held there (covering it, or inside it). Lookups
   * probe only those lengths. Bits are set on insert and rebuilt on resize, not cleared on
   * delete (a stale bit costs one probe, never a wrong answer).
   */
  private lengthsAt: Uint32Array | undefined;

  /** Slots a new or cleared map starts with. */
  private readonly initialSlots: number;

  /**
   * `initialCapacity`: slots to start with (rounded up to a power of two); small by default,
   * as 1,000 built-in collector sessions each hold two maps, most with few routes.
   */
  constructor(words: 1 | 4, initialCapacity = 64) {
    this.words = words;
    this.maxLength = words * 32;
    this.key = new Uint32Array(words);
    this.probe = new Uint32Array(words);
    this.perLength = new Uint32Array(this.maxLength + 1);
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.initialSlots = cap;
    this.keys = new Uint32Array(cap * words);
    this.lens = new Uint8Array(cap).fill(EMPTY);
    this.vals = new Uint32Array(cap);
    this.mask = cap - 1;
    this.rebuildLengthsAt();
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays (the per-/16 length bits included, when kept). */
  get bytes(): number {
    return (
      this.keys.byteLength +
      this.lens.byteLength +
      this.vals.byteLength +
      (this.lengthsAt?.byteLength ?? 0)
    );
  }

  /**
   * Fill `key` from `ceil(length/8)` prefix octets at buf[offset], clearing host bits.
   * Returns `length`.
   */
  loadKey(length: number, buf: Uint8Array, offset: number): number {
    const n = (length + 7) >>> 3;
    const key = this.key;
    for (let w = 0; w < this.words; w++) {
      let v = 0;
      for (let b = 0; b < 4; b++) {
        const i = w * 4 + b;
        v = v * 256 + (i < n ? (buf[offset + i] as number) : 0);
      }
      key[w] = (v & maskWord(length, w)) >>> 0;
    }
    return length;
  }

  private hash(k: Uint32Array, length: number): number {
    let h = Math.imul(length + 1, 0x9e3779b1);
    for (let w = 0; w < this.words; w++) {
      h = Math.imul(h ^ (k[w] as number), 0x85ebca6b);
      h ^= h >>> 13;
    }
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) & this.mask;
  }

  private same(slot: number, k: Uint32Array, length: number): boolean {
    if (this.lens[slot] !== length) return false;
    const base = slot * this.words;
    for (let w = 0; w < this.words; w++) if (this.keys[base + w] !== k[w]) return false;
    return true;
  }

  private find(k: Uint32Array, length: number): number {
    let i = this.hash(k, length);
    for (;;) {
      const l = this.lens[i] as number;
      if (l === EMPTY) return -1;
      if (l === length && this.same(i, k, length)) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** The value held for `key`/`length`, or -1. */
  get(length: number): number {
    const slot = this.find(this.key, length);
    return slot < 0 ? -1 : (this.vals[slot] as number);
  }

  /** Hold `value` for `key`/`length`; returns the value it replaces, or -1. */
  set(length: number, value: number): number {
    const k = this.key;
    let i = this.hash(k, length);
    for (;;) {
      const l = this.lens[i] as number;
      if (l === EMPTY) break;
      if (l === length && this.same(i, k, length)) {
        const old = this.vals[i] as number;
        this.vals[i] = value;
        return old;
      }
      i = (i + 1) & this.mask;
    }
    this.lens[i] = length;
    this.keys.set(k, i * this.words);
    this.vals[i] = value;
    this.count++;
    this.perLength[length] = (this.perLength[length] as number) + 1;
    if (this.lengthsAt) markLength(this.lengthsAt, k[0] as number, length);
    if (this.count * 4 > (this.mask + 1) * 3) this.resize((this.mask + 1) * 2);
    return -1;
  }

  /** Forget `key`/`length`; returns the value it held, or -1. */
  delete(length: number): number {
    let i = this.find(this.key, length);
    if (i < 0) return -1;
    const old = this.vals[i] as number;
    this.count--;
    this.perLength[length] = (this.perLength[length] as number) - 1;
    // Backward-shift deletion: move later members of the probe run into the hole.
    const W = this.words;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const l = this.lens[j] as number;
      if (l === EMPTY) break;
      const home = this.hash(this.keys.subarray(j * W, j * W + W), l);
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (between) continue;
      this.lens[i] = l;
      this.keys.copyWithin(i * W, j * W, j * W + W);
      this.vals[i] = this.vals[j] as number;
      i = j;
    }
    this.lens[i] = EMPTY;
    return old;
  }

  /**
   * The longest held prefix containing `key` of length `upTo` (default: the whole address):
   * its slot, or -1. Read it with `slotLength`/`slotValue`/`slotKey`.
   */
  longestMatch(upTo: number = this.maxLength): number {
    if (this.lengthsAt !== undefined) return this.longestMatch4(this.lengthsAt, upTo);
    const k = this.key;
    const p = this.probe;
    const W = this.words;
    for (let length = upTo; length >= 0; length--) {
      if (this.perLength[length] === 0) continue;
      for (let w = 0; w < W; w++) p[w] = ((k[w] as number) & maskWord(length, w)) >>> 0;
      const slot = this.find(p, length);
      if (slot >= 0) return slot;
    }
    return -1;
  }

  /**
   * `longestMatch` for a large IPv4 map: only the lengths present in the address's /16, probe
   * inlined.
   */
  private longestMatch4(lengthsAt: Uint32Array, upTo: number): number {
    const a = this.key[0] as number;
    const { lens, keys, mask } = this;
    const below = upTo >= 32 ? 0xffffffff : (1 << upTo) - 1;
    let bits = (lengthsAt[a >>> 16] as number) & below;
    while (bits !== 0) {
      const length = 32 - Math.clz32(bits);
      bits &= ~(1 << (length - 1));
      const k = (a & (MASKS4[length] as number)) >>> 0;
      let h = Math.imul(length + 1, 0x9e3779b1);
      h = Math.imul(h ^ k, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      let i = (h ^ (h >>> 16)) & mask;
      for (;;) {
        const l = lens[i] as number;
        if (l === EMPTY) break;
        if (l === length && keys[i] === k) return i;
        i = (i + 1) & mask;
      }
    }
    if (this.perLength[0] === 0) return -1;
    this.probe[0] = 0;
    return this.find(this.probe, 0);
  }

  /** Every held prefix inside `key`/`length` (itself included): their slots. */
  within(length: number): number[] {
    const out: number[] = [];
    const k = this.key;
    const W = this.words;
    const cap = this.mask + 1;
    for (let s = 0; s < cap; s++) {
      const l = this.lens[s] as number;
      if (l === EMPTY || l < length) continue;
      let inside = true;
      for (let w = 0; w < W && inside; w++) {
        inside = ((this.keys[s * W + w] as number) & maskWord(length, w)) >>> 0 === k[w];
      }
      if (inside) out.push(s);
    }
    return out;
  }

  /** Visit every held prefix's slot (any order). */
  forEachSlot(visit: (slot: number) => void): void {
    const cap = this.mask + 1;
    for (let s = 0; s < cap; s++) if (this.lens[s] !== EMPTY) visit(s);
  }

  slotLength(slot: number): number {
    return this.lens[slot] as number;
  }

  slotValue(slot: number): number {
    return this.vals[slot] as number;
  }

  /** The slot's address words (a view: copy before the table changes). */
  slotKey(slot: number): Uint32Array {
    return this.keys.subarray(slot * this.words, slot * this.words + this.words);
  }

  clear(): void {
    this.lens.fill(EMPTY);
    this.perLength.fill(0);
    this.count = 0;
    if (this.mask + 1 > this.initialSlots) this.resize(this.initialSlots);
    else this.rebuildLengthsAt();
  }

  private resize(cap: number): void {
    const { keys, lens, vals, words: W } = this;
    const old = this.mask + 1;
    this.keys = new Uint32Array(cap * W);
    this.lens = new Uint8Array(cap).fill(EMPTY);
    this.vals = new Uint32Array(cap);
    this.mask = cap - 1;
    for (let s = 0; s < old; s++) {
      const l = lens[s] as number;
      if (l === EMPTY) continue;
      const k = keys.subarray(s * W, s * W + W);
      let i = this.hash(k, l);
      while (this.lens[i] !== EMPTY) i = (i + 1) & this.mask;
      this.lens[i] = l;
      this.keys.set(k, i * W);
      this.vals[i] = vals[s] as number;
    }
    this.rebuildLengthsAt();
  }

  /**
   * Keep the per-/16 length bits (rebuilt from the held prefixes) if the map is large enough,
   * else drop them.
   */
  private rebuildLengthsAt(): void {
    const cap = this.mask + 1;
    if (this.words !== 1 || cap < LENGTHS_AT_FROM) {
      this.lengthsAt = undefined;
      return;
    }
    const lengthsAt = this.lengthsAt ?? new Uint32Array(65536);
    if (this.lengthsAt) lengthsAt.fill(0);
    this.lengthsAt = lengthsAt;
    for (let s = 0; s < cap; s++) {
      const l = this.lens[s] as number;
      if (l !== EMPTY) markLength(lengthsAt, this.keys[s] as number, l);
    }
  }
}
