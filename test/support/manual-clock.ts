/**
 * A Clock whose time moves only when the test says so: `advance(ms)` fires every timer that
 * falls due, in due-time order (ties in scheduling order), with `now()` equal to each timer's
 * due time while it runs. Timers scheduled by a firing callback run in the same `advance` if
 * they fall due within it.
 */
import type { Clock, TimerHandle } from "../../src/core/clock.ts";

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  /** `start`: the initial now(), in ms since the epoch. */
  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, due: this.current + delay, fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  /** Move time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next.due > target) break;
      this.timers.delete(next.id);
      this.current = next.due;
      next.fn();
    }
    this.current = target;
  }

  /** Fire timers until none is left (bounded by `maxTimers`, default 10 000); returns how many fired. */
  runAll(maxTimers = 10_000): number {
    let fired = 0;
    for (;;) {
      const next = this.nextDue();
      if (next === undefined) return fired;
      if (fired >= maxTimers) throw new Error(`ManualClock.runAll: more than ${maxTimers} timers`);
      this.advance(next.due - this.current);
      fired += 1;
    }
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  get pending(): number {
    return this.timers.size;
  }

  /** Milliseconds until the next timer is due, or undefined if none. */
  nextDueIn(): number | undefined {
    const next = this.nextDue();
    return next === undefined ? undefined : next.due - this.current;
  }

  private nextDue(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values()) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id))
        best = t;
    }
    return best;
  }
}
