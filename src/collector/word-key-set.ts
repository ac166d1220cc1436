import {
  ADDED_TO_OVERFLOW,
  BucketKeySet,
  bucketSetBytes,
  MIN_BUCKET_BITS,
} from "./bucket-key-set.ts";
import { fillsHole, QUEUE_FROM, QUEUE_LENGTH, QueuedKeySet } from "./queued-key-set.ts";

/**
 * An exact set of unsigned integer keys below 2^bits (bits ≤ 32), adaptive: an
 * open-addressing hash on a Uint32Array (linear probing, backward-shift deletion, no
 * tombstones) while it is sparse, a bitmap of 2^bits bits once that is at most
 * BITMAP_SLACK times the hash it replaces (only for bits ≤ MAX_BITMAP_BITS, 2 MiB at most).
 * From MIN_BUCKET_BITS bits on, a BucketKeySet (about a byte a key, half the bitmap) comes
 * between the two: once it is no larger than the hash would grow to, until a bitmap is
 * smaller than it (`overfull`). It holds the prefixes of one length (the key is the
 * prefix's top `bits` bits), so a session of 1,000 prefixes costs a few KiB and a full
 * table's 600k /24s a 1 MiB bucket set. No object or boxed number per key.
 *
 * `addLater` queues keys once the set is large (QueuedKeySet); a bitmap applies its queue
 * without a branch on the loaded words.
 */
export const MAX_BITMAP_BITS = 24;
/** The bitmap replaces a hash once it is at most this many times the hash's size. */
export const BITMAP_SLACK = 4;
/** The bucket set replaces a hash once it is at most this many times the hash's size. */
export const BUCKET_SLACK = 2;
const INITIAL_SLOTS = 16;

export class WordKeySet extends QueuedKeySet {
  /** Hash slots (0 = empty; key 0 is `hasZero`) or, when `dense`, the bitmap. */
  protected words: Uint32Array;
  private dense: boolean;
  /** The bucket set, between hash and bitmap (`words` is then empty). */
  private buckets?: BucketKeySet;
  private shift: number;
  /** Keys to add before the set is next read (`addLater`), once the set is large. */
  private queue?: Uint32Array;

  constructor(private readonly bits: number) {
    super();
    this.dense = bitmapBytes(bits) <= INITIAL_SLOTS * 4;
    this.words = this.dense ? new Uint32Array(bitmapWords(bits)) : new Uint32Array(INITIAL_SLOTS);
    this.shift = 32 - Math.log2(INITIAL_SLOTS);
  }

  /** Bytes held by the key storage (the queue, once there is one, not counted). */
  override get bytes(): number {
    if (this.queued !== 0) this.applyQueue();
    return this.buckets?.bytes ?? this.words.byteLength;
  }

  /** Add `key` (an integer in [0, 2^bits)); returns whether it was new. */
  add(key: number): boolean {
    if (this.queued !== 0) this.applyQueue();
    return this.insert(key);
  }

  /**
   * Add `key` now or, once the set is large, before the set is next read (see the class).
   * Returns how many keys became held that no call returned before (this key, or a queue
   * applied here or by a read since): summed with `flush()`'s, exactly the keys added.
   */
  addLater(key: number): number {
    const queue = this.queue;
    if (queue === undefined) {
      const added = this.insert(key) ? 1 : 0;
      if (this.held >= QUEUE_FROM) this.queue = new Uint32Array(QUEUE_LENGTH);
      return added;
    }
    queue[this.queued++] = key;
    if (this.queued === QUEUE_LENGTH) this.applyQueue();
    return this.report();
  }

  protected applyQueue(): void {
    const queue = this.queue as Uint32Array;
    const n = this.queued;
    this.queued = 0;
    const before = this.held;
    let i = 0;
    while (i < n && !this.dense && this.buckets === undefined) this.insert(queue[i++] as number);
    const buckets = this.buckets;
    if (i < n && buckets !== undefined) {
      this.held += buckets.addAll(queue, i, n);
      i = n;
      if (buckets.overfull) this.toBitmap();
    }
    if (i < n) {
      // The bitmap: no branch on the loaded word, so the loads of successive keys overlap.
      const words = this.words;
      let added = 0;
      for (; i < n; i++) {
        const key = queue[i] as number;
        const w = key >>> 5;
        const had = words[w] as number;
        added += ((had >>> (key & 31)) & 1) ^ 1;
        words[w] = had | (1 << (key & 31));
      }
      this.held += added;
    }
    this.unreported += this.held - before;
  }

  private insert(key: number): boolean {
    if (this.dense) {
      const w = key >>> 5;
      const bit = 1 << (key & 31);
      const had = (this.words[w] as number) & bit;
      if (had !== 0) return false;
      this.words[w] = (this.words[w] as number) | bit;
      this.held++;
      return true;
    }
    const buckets = this.buckets;
    if (buckets !== undefined) {
      const added = buckets.add(key);
      if (added === 0) return false;
      this.held++;
      if (added === ADDED_TO_OVERFLOW && buckets.overfull) this.toBitmap();
      return true;
    }
    if (key === 0) return this.setZero(true);
    const at = this.find(key);
    if (at >= 0) return false;
    const words = this.words;
    words[~at] = key;
    this.held++;
    if (this.held * 4 > words.length * 3) this.grow();
    return true;
  }

  /** Remove `key`; returns whether it was held. */
  delete(key: number): boolean {
    if (this.queued !== 0) this.applyQueue();
    if (this.dense) {
      const w = key >>> 5;
      const bit = 1 << (key & 31);
      if (((this.words[w] as number) & bit) === 0) return false;
      this.words[w] = (this.words[w] as number) & ~bit;
      this.held--;
      return true;
    }
    if (this.buckets !== undefined) {
      if (!this.buckets.delete(key)) return false;
      this.held--;
      return true;
    }
    if (key === 0) return this.setZero(false);
    const found = this.find(key);
    if (found < 0) return false;
    const words = this.words;
    const mask = words.length - 1;
    // Backward-shift deletion: move later members of the probe run into the hole.
    let hole = found;
    let j = found;
    for (;;) {
      j = (j + 1) & mask;
      const at = words[j] as number;
      if (at === 0) break;
      const home = this.slot(at);
      if (fillsHole(home, hole, j)) {
        words[hole] = at;
        hole = j;
      }
    }
    words[hole] = 0;
    this.held--;
    return true;
  }

  has(key: number): boolean {
    if (this.queued !== 0) this.applyQueue();
    if (this.dense) return (((this.words[key >>> 5] as number) >>> (key & 31)) & 1) === 1;
    if (this.buckets !== undefined) return this.buckets.has(key);
    if (key === 0) return this.hasZero;
    return this.find(key) >= 0;
  }

  /** The slot holding `key` (not 0), or ~(the empty slot where it would go). */
  private find(key: number): number {
    const words = this.words;
    const mask = words.length - 1;
    for (let i = this.slot(key); ; i = (i + 1) & mask) {
      const at = words[i] as number;
      if (at === key) return i;
      if (at === 0) return ~i;
    }
  }

  /** MurmurHash3's finalizer: runs of neighbouring keys (a sorted table) spread out. */
  private slot(key: number): number {
    let h = Math.imul(key ^ (key >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> this.shift;
  }

  /**
   * Double the hash, or turn into the bucket set once that is no larger than the doubled
   * hash, or (too few bits for buckets) into the bitmap once that is at most BITMAP_SLACK
   * times larger.
   */
  private grow(): void {
    const old = this.words;
    const slots = old.length * 2;
    const bits = this.bits;
    if (bits >= MIN_BUCKET_BITS && bits <= MAX_BITMAP_BITS) {
      if (bucketSetBytes(bits) <= slots * 4 * BUCKET_SLACK) {
        const buckets = new BucketKeySet(bits);
        this.eachKey((k) => buckets.add(k));
        this.buckets = buckets;
        this.hasZero = false;
        this.words = new Uint32Array(0);
        if (buckets.overfull) this.toBitmap();
        return;
      }
    } else if (bitmapBytes(bits) <= slots * 4 * BITMAP_SLACK) {
      this.toBitmap();
      return;
    }
    this.words = new Uint32Array(slots);
    this.shift--;
    const words = this.words;
    const mask = slots - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j] as number;
      if (k === 0) continue;
      let i = this.slot(k);
      while (words[i] !== 0) i = (i + 1) & mask;
      words[i] = k;
    }
  }

  /** Turn the hash or the bucket set into the bitmap. */
  private toBitmap(): void {
    const map = new Uint32Array(bitmapWords(this.bits));
    this.eachKey((k) => {
      map[k >>> 5] = (map[k >>> 5] as number) | (1 << (k & 31));
    });
    this.words = map;
    this.buckets = undefined;
    this.hasZero = false;
    this.dense = true;
  }

  /** Every key of the hash or the bucket set (not the bitmap). */
  private eachKey(fn: (key: number) => void): void {
    if (this.buckets !== undefined) {
      this.buckets.forEach(fn);
      return;
    }
    const words = this.words;
    for (let j = 0; j < words.length; j++) {
      const k = words[j] as number;
      if (k !== 0) fn(k);
    }
    if (this.hasZero) fn(0);
  }
}

function bitmapWords(bits: number): number {
  return bits <= 5 ? 1 : 2 ** (bits - 5);
}

function bitmapBytes(bits: number): number {
  return bits > MAX_BITMAP_BITS ? Number.POSITIVE_INFINITY : bitmapWords(bits) * 4;
}
