/**
 * Exponential backoff with full jitter and a cap, reset after a stable period.
 * Pure: the random source is injected, and the caller owns the timers.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). */
  jitter: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 1_000,
  maxMs: 60_000,
  multiplier: 2,
  jitter: 0.5,
};

export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call grows the next one up to the cap. */
  next(): number {
    const { initialMs, maxMs, multiplier, jitter } = this.options;
    const base = Math.min(maxMs, initialMs * multiplier ** this.attempt);
    this.attempt++;
    const spread = base * jitter;
    return Math.round(base - spread + this.random() * spread);
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Back to the initial delay (after a connection stayed up long enough). */
  reset(): void {
    this.attempt = 0;
  }
}
