/**
 * What WordKeySet and PairKeySet share: the count of keys held and the queue of keys their
 * `addLater` defers once the set is large (QUEUE_FROM keys). Queued keys are applied in one
 * tight loop (`applyQueue`) when the queue is full or the set is next read: a large set's
 * slot for a random key is a cache miss (~200 ns in a busy gateway); applied one at a time
 * between the parsing of UPDATEs each miss stalls alone, in a burst the CPU overlaps them.
 * Counting stays exact: what `addLater` and `flush` return sums to the keys added.
 * Also shared: the key 0 (all words 0), which marks an empty hash slot, lives beside the
 * hash (`hasZero`).
 */
export const QUEUE_FROM = 4096;
/** Keys a queue holds before it is applied. */
export const QUEUE_LENGTH = 256;

/**
 * Backward-shift deletion (both sets' hashes): whether the key in slot `j`, whose home slot
 * is `home`, may move into the hole at `hole` (its home is not cyclically within (hole, j]).
 */
export function fillsHole(home: number, hole: number, j: number): boolean {
  return (j > hole && (home <= hole || home > j)) || (j < hole && home <= hole && home > j);
}

export abstract class QueuedKeySet {
  protected held = 0;
  /** Keys queued (`addLater`); one word per key, two for PairKeySet. */
  protected queued = 0;
  /** Keys a queue application added that no `addLater` or `flush` has returned yet. */
  protected unreported = 0;
  /** Whether the key 0 is held (beside the hash: 0 marks an empty slot). */
  protected hasZero = false;

  /** The key storage (a hash, or WordKeySet's bitmap). */
  protected abstract words: Uint32Array;

  /** Bytes held by the key storage (the queue, once there is one, not counted). */
  get bytes(): number {
    if (this.queued !== 0) this.applyQueue();
    return this.words.byteLength;
  }

  /** Keys held. */
  get size(): number {
    if (this.queued !== 0) this.applyQueue();
    return this.held;
  }

  /** Whether keys wait in the queue, or added keys were not returned yet. */
  get pending(): boolean {
    return this.queued !== 0 || this.unreported !== 0;
  }

  /** Apply the queued keys now; returns how many keys became held that no call returned. */
  flush(): number {
    if (this.queued !== 0) this.applyQueue();
    return this.report();
  }

  /** Add (`present`) or remove the key 0; returns whether that changed the set. */
  protected setZero(present: boolean): boolean {
    if (this.hasZero === present) return false;
    this.hasZero = present;
    this.held += present ? 1 : -1;
    return true;
  }

  protected report(): number {
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }

  /** Add the queued keys (`queued` → 0), counting the new ones in `held` and `unreported`. */
  protected abstract applyQueue(): void;
}
