/**
 * Paces garbage collection by the bytes the agent relays. Every chunk costs a few short-lived
 * Buffers of its size (the socket's read, the encoded message, grpc-js's framed copy), and
 * the runtime's own heuristics let tens of MiB of them pile up between collections. A
 * collection is asked for once `everyBytes` were relayed since the last one, but not sooner
 * than `minIntervalMs` after it: a full collection costs ~11 ms on an idle agent's heap and
 * more on a bigger one, so at most one a second, however many sessions relay (slow far end,
 * warm agent: RSS growth +11.7–19.0 MiB instead of +26.3; DEVELOPERS.md, "Data path"). Pure: the
 * clock and the collection are injected.
 */
export const DEFAULT_GC_EVERY_BYTES = 1024 * 1024;
export const DEFAULT_GC_MIN_INTERVAL_MS = 1000;

export class HeapPacer {
  private sinceCollect = 0;
  private lastCollect = Number.NEGATIVE_INFINITY;
  private collectionCount = 0;

  constructor(
    private readonly collect: () => void,
    private readonly now: () => number,
    private readonly everyBytes = DEFAULT_GC_EVERY_BYTES,
    private readonly minIntervalMs = DEFAULT_GC_MIN_INTERVAL_MS,
  ) {
    if (!(everyBytes > 0)) throw new RangeError("everyBytes must be positive");
  }

  /** Collections asked for so far. */
  get collections(): number {
    return this.collectionCount;
  }

  /** `bytes` were relayed (either direction). */
  note(bytes: number): void {
    this.sinceCollect += bytes;
    if (this.sinceCollect < this.everyBytes) return;
    const now = this.now();
    if (now - this.lastCollect < this.minIntervalMs) return;
    this.sinceCollect = 0;
    this.lastCollect = now;
    this.collectionCount++;
    this.collect();
  }
}
