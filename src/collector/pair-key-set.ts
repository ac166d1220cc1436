import { fillsHole, QUEUE_FROM, QUEUE_LENGTH, QueuedKeySet } from "./queued-key-set.ts";

/**
 * An exact set of 64-bit keys given as two unsigned 32-bit words (hi, lo): an
 * open-addressing hash on one Uint32Array of pairs (linear probing, backward-shift deletion,
 * no tombstones). It holds the IPv6 prefixes of one length from /49 to /64 (the key is the
 * prefix's top 64 bits; PrefixTable splits shorter ones by their top 16 bits into
 * WordKeySets), 8 bytes a slot at most 3/4 full, a session of 1,000 prefixes in a few KiB.
 * No object or boxed number per key.
 * `addLater` queues keys once the set is large (QueuedKeySet).
 */
const INITIAL_SLOTS = 16;

export class PairKeySet extends QueuedKeySet {
  /** Slot s holds words[2s], words[2s+1]; (0, 0) is empty, the key (0, 0) is `hasZero`. */
  protected words = new Uint32Array(INITIAL_SLOTS * 2);
  private shift = 32 - Math.log2(INITIAL_SLOTS);
  /** Keys to add before the set is next read (`addLater`): hi, lo, hi, lo ... */
  private queue?: Uint32Array;

  /** Add the key (hi, lo), both unsigned 32-bit; returns whether it was new. */
  add(hi: number, lo: number): boolean {
    if (this.queued !== 0) this.applyQueue();
    return this.insert(hi, lo);
  }

  /** Add the key now or, once the set is large, later (WordKeySet's `addLater`); returns how many keys this call added. */
  addLater(hi: number, lo: number): number {
    const queue = this.queue;
    if (queue === undefined) {
      const added = this.insert(hi, lo) ? 1 : 0;
      if (this.held >= QUEUE_FROM) this.queue = new Uint32Array(2 * QUEUE_LENGTH);
      return added;
    }
    queue[2 * this.queued] = hi;
    queue[2 * this.queued + 1] = lo;
    if (++this.queued === QUEUE_LENGTH) this.applyQueue();
    return this.report();
  }

  protected applyQueue(): void {
    const queue = this.queue as Uint32Array;
    const n = 2 * this.queued;
    this.queued = 0;
    const before = this.held;
    for (let i = 0; i < n; i += 2) this.insert(queue[i] as number, queue[i + 1] as number);
    this.unreported += this.held - before;
  }

  private insert(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) return this.setZero(true);
    const at = this.find(hi, lo);
    if (at >= 0) return false;
    const words = this.words;
    words[2 * ~at] = hi;
    words[2 * ~at + 1] = lo;
    this.held++;
    if (this.held * 8 > words.length * 3) this.grow();
    return true;
  }

  /** Remove the key (hi, lo); returns whether it was held. */
  delete(hi: number, lo: number): boolean {
    if (this.queued !== 0) this.applyQueue();
    if (hi === 0 && lo === 0) return this.setZero(false);
    const found = this.find(hi, lo);
    if (found < 0) return false;
    const words = this.words;
    const mask = (words.length >>> 1) - 1;
    let hole = found;
    let j = found;
    for (;;) {
      j = (j + 1) & mask;
      const h = words[2 * j] as number;
      const l = words[2 * j + 1] as number;
      if (h === 0 && l === 0) break;
      const home = this.slot(h, l);
      if (fillsHole(home, hole, j)) {
        words[2 * hole] = h;
        words[2 * hole + 1] = l;
        hole = j;
      }
    }
    words[2 * hole] = 0;
    words[2 * hole + 1] = 0;
    this.held--;
    return true;
  }

  has(hi: number, lo: number): boolean {
    if (this.queued !== 0) this.applyQueue();
    if (hi === 0 && lo === 0) return this.hasZero;
    return this.find(hi, lo) >= 0;
  }

  /** The slot holding (hi, lo) (not (0, 0)), or ~(the empty slot where it would go). */
  private find(hi: number, lo: number): number {
    const words = this.words;
    const mask = (words.length >>> 1) - 1;
    for (let i = this.slot(hi, lo); ; i = (i + 1) & mask) {
      const h = words[2 * i] as number;
      const l = words[2 * i + 1] as number;
      if (h === hi && l === lo) return i;
      if (h === 0 && l === 0) return ~i;
    }
  }

  /** Both words folded, then MurmurHash3's finalizer (sorted tables arrive in runs). */
  private slot(hi: number, lo: number): number {
    let h = Math.imul(hi, 0x9e3779b1) ^ lo;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> this.shift;
  }

  private grow(): void {
    const old = this.words;
    this.words = new Uint32Array(old.length * 2);
    this.shift--;
    const words = this.words;
    const mask = (words.length >>> 1) - 1;
    for (let j = 0; j < old.length; j += 2) {
      const h = old[j] as number;
      const l = old[j + 1] as number;
      if (h === 0 && l === 0) continue;
      let i = this.slot(h, l);
      while (words[2 * i] !== 0 || words[2 * i + 1] !== 0) i = (i + 1) & mask;
      words[2 * i] = h;
      words[2 * i + 1] = l;
    }
  }
}
