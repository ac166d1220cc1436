import { BgpProxyError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

/**
 * RFC 4271 §8 session states as the passive speaker uses them: Idle (not running, or
 * finished), Active (connection up, waiting for the peer's OPEN), OpenSent (our OPEN
 * sent), OpenConfirm (OPENs exchanged, waiting for KEEPALIVE), Established.
 */
export type SpeakerState = "Idle" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

const ALLOWED: Readonly<Record<SpeakerState, readonly SpeakerState[]>> = {
  Idle: ["Active"],
  Active: ["OpenSent", "Idle"],
  OpenSent: ["OpenConfirm", "Idle"],
  OpenConfirm: ["Established", "Idle"],
  Established: ["Idle"],
};

/** Whether the state machine may go from `from` to `to`. */
export function canTransition(from: SpeakerState, to: SpeakerState): boolean {
  return ALLOWED[from].includes(to);
}

/** Holds the current state; refuses illegal transitions and logs "OLD -> NEW" at debug. */
export class SpeakerStateMachine {
  private current: SpeakerState = "Idle";

  constructor(
    private readonly logger: Logger,
    private readonly onChange?: (from: SpeakerState, to: SpeakerState) => void,
  ) {}

  get state(): SpeakerState {
    return this.current;
  }

  /** Move to `to`; throws an internal error for a transition the table does not allow. */
  transition(to: SpeakerState): void {
    const from = this.current;
    if (!canTransition(from, to)) {
      throw new BgpProxyError("internal", `illegal BGP state transition ${from} -> ${to}`, {
        retryable: false,
      });
    }
    this.current = to;
    this.logger.debug(`${from} -> ${to}`, { from, to });
    this.onChange?.(from, to);
  }
}
