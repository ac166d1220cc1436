import type { Logger } from "../core/logger.ts";
import { InternalsWatch } from "./internals-watch.ts";

/**
 * Counts the relayed sockets whose read-ahead could not be limited to one chunk
 * (`readOneChunkAhead` below sets a private field of the socket's readable
 * state) and warns once: a Bun upgrade that renames the field must not silently bring back
 * the leaky read pacing (~150,000 tiny reads per full table instead of ~2,000; DEVELOPERS.md,
 * "Data path: convergence, session 6"). `missed`: sockets relayed with an unlimited read-ahead.
 */
export class ReadAheadWatch extends InternalsWatch {
  constructor(logger: Logger) {
    super(
      logger,
      "cannot limit a relayed socket's read-ahead to one chunk (Bun internals changed): read pacing no longer holds reads back",
    );
  }

  /** `limited`: what `readOneChunkAhead` returned for one socket. */
  record(limited: boolean): void {
    if (!limited) this.miss();
  }
}

/**
 * Let the socket read ahead of the relay by one chunk, not by its readable high-water mark
 * (64 KiB under Bun). Bun's `pause()` does not stop a TCP socket's native reads: they go on,
 * one chunk per segment that arrives, until the readable buffer passes its high-water mark.
 * A read pacing hold (PACE_HOLD_MS, ~40 KB at BIRD's 10 MB/s) thus never stopped them, and
 * a full table cost ~150,000 reads of ~80 bytes where it should cost ~2,000 (DEVELOPERS.md,
 * "Data path: convergence, session 6"). With the mark at one byte the first chunk read while
 * paused stops the native side, the kernel gathers the rest, and the read after the hold
 * takes it at once. Node stops reading on `pause()` anyway; there the mark changes nothing
 * but what is buffered while paused. (A private field, as for the calls in http2-read-gate.ts.)
 * Returns whether the mark the socket reports (`readableHighWaterMark`) is now one: false
 * when an upgrade renamed the field (told to a ReadAheadWatch).
 */
export function readOneChunkAhead(socket: object): boolean {
  const state = (socket as { _readableState?: { highWaterMark: number } })._readableState;
  if (state && state.highWaterMark > 1) state.highWaterMark = 1;
  return ((socket as { readableHighWaterMark?: number }).readableHighWaterMark ?? 2) <= 1;
}
