/**
 * An exact set of unsigned integer keys below 2^bits (MIN_BUCKET_BITS ≤ bits ≤ 24) at about
 * a byte a key: WordKeySet's form between its hash and its bitmap, for keys a few in a
 * hundred of the key space (a full table's 600k /24s: 1 MiB where the bitmap takes 2 and a
 * hash 4 to 8).
 *
 * Each key is first permuted over its `bits` bits (multiplied by an odd constant modulo
 * 2^bits: a bijection that spreads neighbouring keys, e.g. a /16 cut into its 256 /24s, over
 * different buckets). The permuted key's top bits − 8 bits choose a bucket of BUCKET_BYTES
 * bytes, its low 8 bits are what the bucket stores: byte 0 counts the bucket's keys (bit 7:
 * it overflowed), bytes 1..15 hold them unordered. A bucket holds 15 keys; further keys go
 * to `overflow` (a Set of whole keys, looked at only for buckets that overflowed). Once
 * the overflow costs more than the buckets themselves (keys bunched more than the
 * permutation undoes, or a denser set), a bitmap is smaller: `overfull` says so.
 */
export const MIN_BUCKET_BITS = 16;
export const BUCKET_BYTES = 16;
const BUCKET_KEYS = BUCKET_BYTES - 1;
const OVERFLOWED = 0x80;
/** What `add` returns for a new key: it went into its bucket, or into the overflow. */
export const ADDED = 1;
export const ADDED_TO_OVERFLOW = 2;
/** What a key in the overflow Set costs, about (the Set's table and entry). */
const OVERFLOW_KEY_BYTES = 32;

/** An odd multiplier and its inverse modulo 2^32 (so modulo any 2^bits too). */
const MULTIPLIER = 0x9e3779b1;
const INVERSE = inverseOdd(MULTIPLIER);

export class BucketKeySet {
  /** The buckets: BUCKET_BYTES bytes each, a count byte then the stored low bytes. */
  private readonly table: Uint8Array;
  /** The same buckets as 32-bit words (four a bucket), to compare four keys at once. */
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly overflow = new Set<number>();
  private held = 0;
  /** What addAll's first pass read, kept so that the engine does not drop the reads. */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: written so the reads stay.
  private touched = 0;

  constructor(bits: number) {
    if (bits < MIN_BUCKET_BITS || bits > 24) throw new RangeError(`bucket set of ${bits} bits`);
    this.mask = 2 ** bits - 1;
    this.table = new Uint8Array(bucketSetBytes(bits));
    this.words = new Uint32Array(this.table.buffer);
  }

  get size(): number {
    return this.held;
  }

  /** Bytes held: the buckets and an estimate of the overflow Set's. */
  get bytes(): number {
    return this.table.byteLength + this.overflow.size * OVERFLOW_KEY_BYTES;
  }

  /** Whether a bitmap of the key space would now be smaller than this set. */
  get overfull(): boolean {
    return this.overflow.size * OVERFLOW_KEY_BYTES > this.table.byteLength;
  }

  /** Add `key`: 0 if it was held, else ADDED or ADDED_TO_OVERFLOW. */
  add(key: number): 0 | typeof ADDED | typeof ADDED_TO_OVERFLOW {
    const p = this.permuted(key);
    const table = this.table;
    const at = (p >>> 8) * BUCKET_BYTES;
    const head = table[at] as number;
    // An overflowed bucket may have room again (a delete) while its key waits in the overflow.
    if (this.includes(key, p, head)) return 0;
    this.held++;
    const n = head & ~OVERFLOWED;
    if (n < BUCKET_KEYS) {
      table[at + 1 + n] = p & 0xff;
      table[at] = head + 1;
      return ADDED;
    }
    this.overflow.add(key);
    table[at] = head | OVERFLOWED;
    return ADDED_TO_OVERFLOW;
  }

  /**
   * Add keys[from .. to) (a queue of keys); returns how many were new. Their buckets are
   * read in a first pass with no branch on what it loads, so that the cache misses of
   * successive keys overlap (a large set's bucket is a miss in a busy process), then added.
   */
  addAll(keys: Uint32Array, from: number, to: number): number {
    const table = this.table;
    const mask = this.mask;
    let touched = 0;
    for (let i = from; i < to; i++) {
      touched |= table[
        ((Math.imul(keys[i] as number, MULTIPLIER) & mask) >>> 8) * BUCKET_BYTES
      ] as number;
    }
    this.touched = touched;
    let added = 0;
    for (let i = from; i < to; i++) if (this.add(keys[i] as number) !== 0) added++;
    return added;
  }

  /** Remove `key`; returns whether it was held. */
  delete(key: number): boolean {
    const p = this.permuted(key);
    const table = this.table;
    const at = (p >>> 8) * BUCKET_BYTES;
    const head = table[at] as number;
    const n = head & ~OVERFLOWED;
    for (let i = at + 1; i <= at + n; i++) {
      if (table[i] !== (p & 0xff)) continue;
      table[i] = table[at + n] as number;
      table[at] = head - 1;
      this.held--;
      return true;
    }
    if ((head & OVERFLOWED) === 0 || !this.overflow.delete(key)) return false;
    this.held--;
    return true;
  }

  has(key: number): boolean {
    const p = this.permuted(key);
    return this.includes(key, p, this.table[(p >>> 8) * BUCKET_BYTES] as number);
  }

  /** `key` permuted over the set's bits: its bucket is p >>> 8, its stored byte p & 0xff. */
  private permuted(key: number): number {
    return Math.imul(key, MULTIPLIER) & this.mask;
  }

  /** Whether `key` (permuted: `p`) is held, its bucket's count byte being `head`. */
  private includes(key: number, p: number, head: number): boolean {
    if (this.holds(p >>> 8, p & 0xff, head & ~OVERFLOWED)) return true;
    return (head & OVERFLOWED) !== 0 && this.overflow.has(key);
  }

  /**
   * Whether `bucket`, holding `n` keys, holds the low byte `low`: its four words compared at
   * once (each byte equal to `low` becomes 0; an exact zero-byte test, no borrow between
   * bytes), the count byte and the free bytes masked off.
   */
  private holds(bucket: number, low: number, n: number): boolean {
    const words = this.words;
    const w = bucket * 4;
    const pattern = Math.imul(low, 0x01010101);
    const masks = n * 4;
    let x = (words[w] as number) ^ pattern;
    let hit = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f) & (SLOT_MASKS[masks] as number);
    x = (words[w + 1] as number) ^ pattern;
    hit |= ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f) & (SLOT_MASKS[masks + 1] as number);
    x = (words[w + 2] as number) ^ pattern;
    hit |= ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f) & (SLOT_MASKS[masks + 2] as number);
    x = (words[w + 3] as number) ^ pattern;
    hit |= ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f) & (SLOT_MASKS[masks + 3] as number);
    return hit !== 0;
  }

  /** Call `fn` with every key held (in no particular order). */
  forEach(fn: (key: number) => void): void {
    const table = this.table;
    const mask = this.mask;
    for (let at = 0, bucket = 0; at < table.length; at += BUCKET_BYTES, bucket++) {
      const n = (table[at] as number) & ~OVERFLOWED;
      for (let i = 1; i <= n; i++) {
        fn(Math.imul((bucket << 8) | (table[at + i] as number), INVERSE) & mask);
      }
    }
    for (const key of this.overflow) fn(key);
  }
}

/**
 * For a bucket of n keys (n = 0..15), its words' masks (4n .. 4n + 3): the top bit of each
 * byte that holds a key (bytes 1..n; byte 0 is the count), in the platform's byte order.
 */
const SLOT_MASKS = (() => {
  const masks = new Uint32Array(4 * BUCKET_BYTES);
  const bytes = new Uint8Array(masks.buffer);
  for (let n = 0; n <= BUCKET_KEYS; n++) for (let i = 1; i <= n; i++) bytes[n * 16 + i] = 0x80;
  return masks;
})();

/** The bytes of a bucket set of `bits` bits (half its bitmap's). */
export function bucketSetBytes(bits: number): number {
  return 2 ** (bits - 8) * BUCKET_BYTES;
}

/** The inverse of an odd number modulo 2^32 (Newton's iteration doubles the bits right each step). */
function inverseOdd(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x;
}
