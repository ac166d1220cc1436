import type { Clock, TimerHandle } from "../core/clock.ts";

/** Delay between Data stream attempts for a bridged session (the bridge bounds the total). */
export const BRIDGE_REDIAL_MS = { first: 250, max: 5_000 } as const;

/**
 * The redial of a bridged session's far end: while the bridge keeps the router's BGP session
 * up, Data streams are dialled with a doubling delay up to a cap, starting again from the
 * first delay once a new far end took the session over.
 */
export class BridgeRedial {
  private last?: { timer: TimerHandle; delayMs: number };

  constructor(private readonly clock: Clock) {}

  /** Schedule the next attempt after the previous delay doubled (capped). */
  schedule(attempt: () => void): void {
    const delayMs = Math.min(
      this.last ? this.last.delayMs * 2 : BRIDGE_REDIAL_MS.first,
      BRIDGE_REDIAL_MS.max,
    );
    this.last = { timer: this.clock.schedule(delayMs, attempt), delayMs };
  }

  /** A new far end took the session over: the next loss starts from the first delay. */
  reset(): void {
    this.last = undefined;
  }

  /** The session ended: no further attempt. */
  cancel(): void {
    this.last?.timer.cancel();
  }
}
