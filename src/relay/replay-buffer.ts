/**
 * The replay buffer of one direction of a resumable session: the data messages sent on the
 * session's Data streams that the peer has not confirmed yet, so that a new stream can
 * send them again after a lost one. Pure: no sockets, no timers.
 *
 * Counting follows the wire contract's counters, which count messages: message n (from 0)
 * is the n-th data message (action UNSPECIFIED, with data) of the session in this
 * direction, over all its streams. KILL, RESTART and acknowledgement-only messages are
 * not counted. The peer confirms with its cumulative count of messages received: the
 * counters in a new stream's headers (at re-open), and `received` acknowledgements while a
 * stream runs (docs/wire-protocol.md, "Resume").
 *
 * Cost on the hot path: `record` keeps a reference to the chunk array the relay already made
 * for the message (no copy); `acknowledge` drops references. Memory is bounded by
 * `limitBytes`: past it the buffer lets everything go and is `overflowed` for good — the
 * session can no longer be resumed (it falls back to bridging or a close).
 */
import { BgpProxyError } from "../core/errors.ts";

/** Default bound per session and direction. */
export const DEFAULT_REPLAY_LIMIT_BYTES = 4 * 1024 * 1024;

/** Why a peer's count cannot be reconciled with what this side sent. */
export type ReplayMismatch =
  | "ahead" // the peer claims more messages than were ever sent
  | "behind" // the peer lacks messages that were already dropped as confirmed
  | "overflowed"; // the buffer gave up: unconfirmed messages are gone

export class ReplayError extends BgpProxyError {
  readonly mismatch: ReplayMismatch;

  constructor(mismatch: ReplayMismatch, message: string) {
    super("protocol", message, { retryable: false });
    this.name = "ReplayError";
    this.mismatch = mismatch;
  }
}

export class ReplayBuffer {
  /** Held messages; `messages[head]` is message number `base`. */
  private messages: Uint8Array[][] = [];
  private sizes: number[] = [];
  private head = 0;
  private base: number;
  private sentCount: number;
  private held = 0;
  private gaveUp = false;

  /**
   * `alreadySent`: messages of this direction sent before the buffer existed (they are
   * taken as confirmed).
   */
  constructor(
    readonly limitBytes: number = DEFAULT_REPLAY_LIMIT_BYTES,
    alreadySent = 0,
  ) {
    this.base = alreadySent;
    this.sentCount = alreadySent;
  }

  /** Messages sent in this direction so far (the side's counter). */
  get sent(): number {
    return this.sentCount;
  }

  /** Bytes held right now. */
  get heldBytes(): number {
    return this.held;
  }

  /** Messages held right now. */
  get heldMessages(): number {
    return this.messages.length - this.head;
  }

  /** The lowest message number still held (= the peer's last confirmed count). */
  get confirmed(): number {
    return this.base;
  }

  /** True once the limit was passed: the session cannot be resumed any more. */
  get overflowed(): boolean {
    return this.gaveUp;
  }

  /**
   * Record one data message as sent (`bytes` = the sum of its chunks' lengths). Keeps the
   * array, does not copy it; the caller must not change it afterwards. False once the
   * buffer has overflowed.
   */
  record(data: Uint8Array[], bytes: number): boolean {
    this.sentCount++;
    if (this.gaveUp) return false;
    this.messages.push(data);
    this.sizes.push(bytes);
    this.held += bytes;
    if (this.held > this.limitBytes) {
      this.gaveUp = true;
      this.messages = [];
      this.sizes = [];
      this.head = 0;
      this.held = 0;
      return false;
    }
    return true;
  }

  /**
   * The peer has received `count` messages in all: drop those. A count below what was
   * already confirmed is ignored (acknowledgements may arrive late); a count above what was
   * sent is an error.
   */
  acknowledge(count: number): ReplayError | undefined {
    if (!Number.isSafeInteger(count) || count < 0 || count > this.sentCount) {
      return new ReplayError(
        "ahead",
        `the peer confirms ${count} messages, ${this.sentCount} were sent`,
      );
    }
    if (count <= this.base) return undefined;
    if (this.gaveUp) {
      this.base = count;
      return undefined;
    }
    while (this.base < count) {
      this.held -= this.sizes[this.head] as number;
      this.messages[this.head] = EMPTY;
      this.head++;
      this.base++;
    }
    // Compact once the dropped prefix is the larger part (amortised O(1) per message).
    if (this.head > 64 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return undefined;
  }

  /**
   * What to send again on a new stream whose peer has received `peerReceived` messages:
   * the held messages from that number on, in order (the same chunk arrays). Confirms
   * everything below it.
   */
  replayFrom(peerReceived: number): Uint8Array[][] | ReplayError {
    if (peerReceived < this.base) {
      return new ReplayError(
        "behind",
        `the peer has ${peerReceived} messages, ${this.base} were confirmed before`,
      );
    }
    if (this.gaveUp && peerReceived < this.sentCount) {
      return new ReplayError(
        "overflowed",
        `${this.sentCount - peerReceived} unconfirmed messages were let go (replay limit ${this.limitBytes} bytes)`,
      );
    }
    const error = this.acknowledge(peerReceived);
    if (error) return error;
    return this.messages.slice(this.head);
  }
}

const EMPTY: Uint8Array[] = [];

/** One side's counters of a session, as a Data call's headers carry them. */
export interface SessionCounters {
  /** Data messages this side sent. */
  sent: number;
  /** Data messages this side received (and handed on). */
  received: number;
}

/**
 * At re-open, this side (`buffer` holds what it sent, `received` what it got) against the
 * peer's counters: the messages to send again, or why the session cannot go on (KILL).
 */
export function planResume(
  buffer: ReplayBuffer,
  received: number,
  peer: SessionCounters,
): Uint8Array[][] | ReplayError {
  if (peer.sent < received) {
    return new ReplayError(
      "ahead",
      `the peer sent ${peer.sent} messages, ${received} were received from it`,
    );
  }
  return buffer.replayFrom(peer.received);
}
