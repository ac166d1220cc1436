import { ErrorCode, MessageType } from "../../bgp/constants.ts";
import type { MessageCursor, MessageVisitor } from "./message-cursor.ts";

/**
 * Covering a stalled far end while relaying a session that could be bridged (pure; time
 * passed in). A partition that the agent's transport still carries (it gives a connection
 * up after 240 s of silence) would otherwise let the router's hold timer expire.
 *
 * Timing: when the far end has sent the router nothing for half the negotiated hold time,
 * the bridge sends the router a KEEPALIVE in its place, and again every hold/3, until the
 * far end's bytes reach the router again or its stream ends (then bridging takes over).
 * Half, not a third, at first: a far end sends its own KEEPALIVEs every hold/3, and a
 * cover due at that moment would race them on every quiet session.
 *
 * Message boundaries: while bridging would apply the far end sends the router no routes
 * (only KEEPALIVEs, End-of-RIB, a NOTIFICATION), so its bytes are passed on message by
 * message: a message not yet whole at the end of a chunk is held back until it is. So a
 * cover KEEPALIVE never splits a message, a loss never leaves half a message at the
 * router, and the far end's hold timer expiring during the stall (it heard nothing of the
 * router either) can be told apart: its Hold Timer Expired — or Send Hold Timer Expired,
 * RFC 9687 — is dropped with everything after it ("far-end-ended"), and the end of the
 * stream that follows (the far end's FIN, or the transport giving up) is bridged like any
 * lost far end. It arrives behind whatever the far end sent before it expired, so this
 * holds whether or not the bridge covered the stall.
 *
 * States: "flowing" (the far end's messages reach the router), "covering" (the router got
 * a KEEPALIVE the far end did not send), "far-end-ended" (see above).
 * flowing -> covering -> flowing (a far-end message passed) ; flowing | covering ->
 * far-end-ended ; `reset` (a new far end took over) -> flowing.
 */
export type StallState = "flowing" | "covering" | "far-end-ended";

/** RFC 9687: the far end could not send for its send hold time. */
const SEND_HOLD_TIMER_EXPIRED = 8;

/** A far-end NOTIFICATION that says only that the transport stalled. */
function isStallNotification(message: Uint8Array | undefined): boolean {
  const code = message?.[19];
  return code === ErrorCode.HOLD_TIMER_EXPIRED || code === SEND_HOLD_TIMER_EXPIRED;
}

/** What `guard` let through (in order) and whether the far end just ended the session. */
export interface GuardResult {
  readonly release: readonly Uint8Array[];
  readonly ended: boolean;
}

export class StallCover {
  private current: StallState = "flowing";
  /** The last time far-end bytes (or a KEEPALIVE in their place) went to the router. */
  private lastToRouter = 0;
  /** The start of a far-end message not yet whole: not passed to the router yet. */
  private partial: Uint8Array[] = [];
  /** When the first KEEPALIVE of the current stall was sent (while not flowing). */
  coveredSince = 0;
  /** When a covered far end's bytes last passed again (covering -> flowing); 0: never. */
  private resumedAt = 0;

  get state(): StallState {
    return this.current;
  }

  /** When far-end bytes (or a KEEPALIVE in their place) last went to the router. */
  get lastToRouterAt(): number {
    return this.lastToRouter;
  }

  /** True while bytes of an unfinished far-end message are held back. */
  get holding(): boolean {
    return this.partial.length > 0;
  }

  /** Far-end bytes went to the router at `now` (relayed without the guard). */
  flowed(now: number): void {
    this.lastToRouter = now;
  }

  /** A new far end took over at `now`. */
  reset(now: number): void {
    this.current = "flowing";
    this.lastToRouter = now;
    this.partial = [];
    this.resumedAt = 0;
  }

  /** Whether a covered far end's bytes passed again at most `ms` before `now`. */
  resumedWithin(now: number, ms: number): boolean {
    return this.resumedAt > 0 && now - this.resumedAt <= ms;
  }

  /** When the next KEEPALIVE in the far end's place is due (`holdMs`: negotiated, > 0). */
  deadline(holdMs: number): number {
    return this.lastToRouter + this.wait(holdMs);
  }

  /** True when a KEEPALIVE is due at `now`; the caller sends it. */
  keepaliveDue(now: number, holdMs: number): boolean {
    if (now < this.deadline(holdMs)) return false;
    if (this.current === "flowing") {
      this.current = "covering";
      this.coveredSince = now;
    }
    this.lastToRouter = now;
    return true;
  }

  /**
   * A far-end chunk while bridging would apply: whole messages are released, the start of
   * an unfinished one is held (copied), a stall NOTIFICATION ends the far end. `watch` sees
   * every message passed on; `guarded()` is asked after each whether to go on message by
   * message (false: bridging no longer applies, so the rest is released as it comes).
   */
  guard(
    chunk: Uint8Array,
    cursor: MessageCursor,
    watch: MessageVisitor,
    guarded: () => boolean,
    now: number,
  ): GuardResult {
    if (this.current === "far-end-ended") {
      cursor.push(chunk, () => {});
      return { release: [], ended: false };
    }
    let released = 0;
    let open = true;
    let ended = false;
    cursor.push(chunk, (type, end, message) => {
      if (ended) return;
      if (open && type === MessageType.NOTIFICATION && isStallNotification(message)) {
        ended = true;
        return;
      }
      watch(type, end, message);
      if (open) open = guarded();
      released = end;
    });
    // Bytes that are not BGP, or a session that can no longer be bridged: all passed on.
    const upTo = !ended && (!open || cursor.failed) ? chunk.length : released;
    const release: Uint8Array[] = [];
    if (upTo > 0) {
      release.push(...this.partial, upTo === chunk.length ? chunk : chunk.subarray(0, upTo));
      this.partial = [];
      this.lastToRouter = now;
      if (this.current === "covering") {
        this.current = "flowing";
        this.resumedAt = now;
      }
    }
    if (ended) {
      this.partial = [];
      this.current = "far-end-ended";
    } else if (upTo < chunk.length) this.partial.push(chunk.slice(upTo));
    return { release, ended };
  }

  /** Silence before the next cover: hold/2 while flowing, then hold/3 (at least 1 s). */
  private wait(holdMs: number): number {
    return Math.max(1000, Math.floor(holdMs / (this.current === "flowing" ? 2 : 3)));
  }
}
