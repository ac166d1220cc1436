import type { Clock, TimerHandle } from "../core/clock.ts";
import type { ResumableCall } from "../relay/resumable-call.ts";

/**
 * The gateway's resumable sessions by session-id: each one's ResumableCall, whose far end
 * (daemon connection or collector session) stays open while its Data stream is lost, for
 * `graceMs`. A new stream of the same session — same session-id, device address and agent
 * account — takes it over within that time; after it, the session is given up and its far
 * end closed as it is without resume.
 */
export const DEFAULT_RESUME_GRACE_MS = 30_000;

export interface HeldSession {
  call: ResumableCall;
  deviceIp: string;
  email: string;
}

interface Entry extends HeldSession {
  timer?: TimerHandle;
}

export type TakeOutcome =
  | { kind: "held"; session: HeldSession }
  | { kind: "unknown" }
  | { kind: "mismatch"; why: string };

export class HeldSessions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
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
