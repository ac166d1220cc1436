import type { Clock, TimerHandle } from "../core/clock.ts";

/**
 * The hold and keepalive timers of one BGP session (RFC 4271 §10) on an injected
 * clock. The hold timer keeps a deadline that `heard` pushes out, and re-arms itself
 * lazily when it fires early, so a burst of messages costs no timer churn.
 */
export class SessionTimers {
  private holdTimer: TimerHandle | undefined;
  private keepaliveTimer: TimerHandle | undefined;
  private holdMs = 0;
  private deadline = 0;

  constructor(private readonly clock: Clock) {}

  /** (Re)start the hold timer: `onExpire` runs when nothing is heard for `seconds`. */
  armHold(seconds: number, onExpire: () => void): void {
    this.holdTimer?.cancel();
    this.holdMs = seconds * 1000;
    this.deadline = this.clock.now() + this.holdMs;
    const check = (): void => {
      const remaining = this.deadline - this.clock.now();
      if (remaining > 0) {
        this.holdTimer = this.clock.schedule(remaining, check);
        return;
      }
      this.holdTimer = undefined;
      onExpire();
    };
    this.holdTimer = this.clock.schedule(this.holdMs, check);
  }

  /** A KEEPALIVE or UPDATE arrived: the hold timer starts over. */
  heard(): void {
    this.deadline = this.clock.now() + this.holdMs;
  }

  /** Run `onTick` every `intervalMs` until cancelled. */
  armKeepalive(intervalMs: number, onTick: () => void): void {
    this.keepaliveTimer?.cancel();
    const tick = (): void => {
      this.keepaliveTimer = this.clock.schedule(intervalMs, tick);
      onTick();
    };
    this.keepaliveTimer = this.clock.schedule(intervalMs, tick);
  }

  /** Stop both timers. */
  cancel(): void {
    this.holdTimer?.cancel();
    this.keepaliveTimer?.cancel();
    this.holdTimer = undefined;
    this.keepaliveTimer = undefined;
  }
}
