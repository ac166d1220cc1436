/** Time is injected so that TTLs, heartbeats and backoff can be tested without sleeping. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run `fn` once after `ms` milliseconds. */
  schedule(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * A clock for measuring short intervals: now() is performance.now() (sub-millisecond, monotonic,
 * not since the epoch), timers as systemClock's. The relay's read pacing compares gaps under 1 ms.
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  schedule: systemClock.schedule,
};

/** The system clock with timers that do not keep the process alive (log summaries). */
export const backgroundClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};
