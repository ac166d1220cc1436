/**
 * Read pacing for one relayed socket (src/relay/stream-relay.ts): whether a read should
 * pause the socket for a while, so that the kernel gathers what arrives meanwhile and the
 * next read (and gRPC message) is large. A pure state machine on the relay's clock; the
 * relay owns the timer and the socket.
 *
 * - A small read (under PACE_BELOW_BYTES) less than PACE_MS after the previous message went
 *   out or the previous read means the peer is streaming small writes (a BGP speaker sends one
 *   UPDATE per syscall): hold for PACE_MS, or PACE_HOLD_MS once holds follow each other (a
 *   sustained stream: PACE_STREAK holds in a row, each within PACE_STREAK_MS of the last).
 * - An idle session's first read goes at once; a fast sender's reads grow past
 *   PACE_BELOW_BYTES and are not held; chunks already waiting in the socket's readable buffer
 *   (`backlog`) are never held.
 *
 * Measured and left out (DEVELOPERS.md, "Data path: convergence, session 7"): resting from
 * pacing after a sustained hold that gathered little. It was tried against holds that let
 * one ~1,500-byte segment through each (a session bridge's router socket reading on while
 * paused, since fixed at its cause); every segment then became a read and most a message,
 * the relay's CPU per table doubled, and on two cores convergence got slower.
 */

/** A read smaller than this, soon after the previous message, pauses the socket (pacing). */
export const PACE_BELOW_BYTES = 128 * 1024;
/** How soon after the previous message (or read) a small read counts as streaming, ms. */
export const PACE_MS = 1;
/**
 * How long a paced socket stays paused in a sustained stream (a hold with PACE_STREAK holds
 * before it in a row, each started within PACE_STREAK_MS of the one before), ms; other holds
 * last PACE_MS.
 * (Convergence engineer, session 4; DEVELOPERS.md "Data path: convergence CPU (session 4)":
 * a full table from BIRD, ~15 MB/s, then goes in ~1,000–2,700 messages instead of
 * 3,500–6,600, and the relay's CPU per table falls by ~40 %. A stray quick pair of pings
 * still costs the next one at most PACE_MS.)
 * 8, not 4, since the holds really stop Bun's reads (`readOneChunkAhead`, read-ahead-watch.ts,
 * session 6): with 4 a table took ~2,200 reads and messages and more relay CPU than with the
 * old leaky holds (~1,100); with 8, ~1,000 (DEVELOPERS.md, "Data path: convergence, session 6").
 */
export const PACE_HOLD_MS = 8;
export const PACE_STREAK = 3;
export const PACE_STREAK_MS = 2 * PACE_HOLD_MS;
export class ReadPacer {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastReadAt = Number.NEGATIVE_INFINITY;
  /** Holds in a row (each within PACE_STREAK_MS of the previous), and the last one's start. */
  private streak = 0;
  private lastHoldAt = Number.NEGATIVE_INFINITY;

  /** A message went out at `now`. */
  sent(now: number): void {
    this.lastSentAt = now;
  }

  /**
   * A read of `length` bytes at `now`; `backlog`: more chunks wait in the socket's readable
   * buffer; `holding`: a hold is already running. Returns how long to hold the socket, ms
   * (0: not at all).
   */
  read(length: number, now: number, backlog: boolean, holding: boolean): number {
    const streaming =
      length < PACE_BELOW_BYTES &&
      now - Math.max(this.lastSentAt, this.lastReadAt) < PACE_MS &&
      !backlog;
    this.lastReadAt = now;
    if (!streaming || holding) return 0;
    this.streak = now - this.lastHoldAt < PACE_STREAK_MS ? this.streak + 1 : 0;
    this.lastHoldAt = now;
    return this.streak >= PACE_STREAK ? PACE_HOLD_MS : PACE_MS;
  }
}
