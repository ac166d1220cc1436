import type { Clock, TimerHandle } from "../core/clock.ts";
import type { ResumableCall } from "../relay/resumable-call.ts";

/**
 * The gateway's sessions by session-id: each one's ResumableCall, whose far end (daemon
 * connection or collector session) stays open for `graceMs` while no Data stream carries it
 * — after a lost stream (resume) or a completed graceful RESTART. A new stream of the same
 * session — same session-id, device address and agent account — takes it over within that
 * time; after it, the session is given up and its far end closed as without resume.
 *
 * Resume acknowledgements (bgproxy.v1.ResumeService) reach a session through here: an
 * agent's Acks stream that acknowledges a session becomes the route of the gateway's own
 * acknowledgements for it.
 */
export const DEFAULT_RESUME_GRACE_MS = 30_000;

export interface HeldSession {
  call: ResumableCall;
  deviceIp: string;
  email: string;
}

/** An agent's Acks stream, as the route of the gateway's acknowledgements. */
export interface AckRoute {
  send(sessionId: string, received: number): void;
}

interface Entry extends HeldSession {
  timer?: TimerHandle;
  acks?: AckRoute;
}

export type TakeOutcome =
  | { kind: "held"; session: HeldSession }
  | { kind: "unknown" }
  | { kind: "mismatch"; why: string };

export class HeldSessions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** The clock of the grace timers, and of the held sessions' own timers (ResumableCall). */
    readonly clock: Clock,
    readonly graceMs: number = DEFAULT_RESUME_GRACE_MS,
  ) {}

  /** Sessions known (live or waiting for their agent). */
  get size(): number {
    return this.entries.size;
  }

  /** Sessions whose stream is lost, waiting for a resume. */
  get waiting(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.timer) n++;
    return n;
  }

  add(sessionId: string, session: HeldSession): void {
    this.entries.set(sessionId, { ...session });
  }

  /** The session's stream was lost: `expire` runs unless it is taken within the grace. */
  lost(sessionId: string, expire: () => void): void {
    const entry = this.entries.get(sessionId);
    if (!entry) return;
    entry.timer?.cancel();
    entry.timer = this.clock.schedule(this.graceMs, () => {
      entry.timer = undefined;
      this.entries.delete(sessionId);
      expire();
    });
  }

  /** A new stream for `sessionId`: the session when it is this device's and account's. */
  take(sessionId: string, deviceIp: string, email: string): TakeOutcome {
    const entry = this.entries.get(sessionId);
    if (!entry) return { kind: "unknown" };
    if (entry.deviceIp !== deviceIp) return { kind: "mismatch", why: "another device address" };
    if (entry.email !== email) return { kind: "mismatch", why: "another agent account" };
    entry.timer?.cancel();
    entry.timer = undefined;
    return { kind: "held", session: entry };
  }

  /**
   * The agent acknowledged `received` messages of the session on its Acks stream `route`:
   * the replay buffer drops them, and our acknowledgements for the session take that route.
   * False when the session is unknown here or another account's.
   */
  acknowledged(sessionId: string, email: string, received: number, route: AckRoute): boolean {
    const entry = this.entries.get(sessionId);
    if (!entry || entry.email !== email) return false;
    entry.acks = route;
    entry.call.acknowledge(received);
    return true;
  }

  /** Our acknowledgement for a session, on the route its agent's acknowledgements took. */
  sendAck(sessionId: string, received: number): void {
    this.entries.get(sessionId)?.acks?.send(sessionId, received);
  }

  /** An Acks stream ended: no session's acknowledgements take it any more. */
  dropRoute(route: AckRoute): void {
    for (const entry of this.entries.values()) if (entry.acks === route) entry.acks = undefined;
  }

  /**
   * The session ended (closed, killed, given up). With `call`, only while the entry is that
   * call's: a session started afresh under the same id replaced it.
   */
  remove(sessionId: string, call?: ResumableCall): void {
    const entry = this.entries.get(sessionId);
    if (!entry || (call && entry.call !== call)) return;
    entry.timer?.cancel();
    this.entries.delete(sessionId);
  }
}
