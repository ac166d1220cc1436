/**
 * What WordKeySet and PairKeySet share: the count of keys held and the queue of keys their
 * `addLater` defers once the set is large (QUEUE_FROM keys). Queued keys are applied in one
 * tight loop (`applyQueue`) when the queue is full or the set is next read: a large set's
 * slot for a random key is a cache miss (~200 ns in a busy gateway); applied one at a time
 * between the parsing of UPDATEs each miss stalls alone, in a burst the CPU overlaps them.
 * Counting stays exact: what `addLater` and `flush` return sums to the keys added.
 */
export const QUEUE_FROM = 4096;
/** Keys a queue holds before it is applied. */
export const QUEUE_LENGTH = 256;

export abstract class QueuedKeySet {
  protected held = 0;
  /** Keys queued (`addLater`); one word per key, two for PairKeySet. */
  protected queued = 0;
  /** Keys a queue application added that no `addLater` or `flush` has returned yet. */
  protected unreported = 0;

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

  protected report(): number {
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }

  /** Add the queued keys (`queued` → 0), counting the new ones in `held` and `unreported`. */
  protected abstract applyQueue(): void;
}
