import { describe, expect, mock, test } from "bun:test";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "../../src/core/backoff.ts";

const ALMOST_ONE = 0.999_999_999;

function backoff(options: Partial<BackoffOptions> = {}): Backoff {
  return new Backoff({ initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0, ...options });
}

function take(b: Backoff, n: number): number[] {
  return Array.from({ length: n }, () => b.next());
}

describe("Backoff growth and cap", () => {
  test("without jitter each delay is the previous one times the multiplier", () => {
    expect(take(backoff({ random: () => 0.5 }), 4)).toEqual([100, 200, 400, 800]);
    expect(take(backoff({ multiplier: 3, maxMs: 100_000 }), 4)).toEqual([100, 300, 900, 2700]);
  });

  test("the delay never exceeds maxMs, however many attempts", () => {
    const b = backoff();
    expect(take(b, 7)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    // multiplier ** attempt overflows to Infinity long before this: still the cap.
    for (let i = 0; i < 2_000; i++) b.next();
    expect(b.next()).toBe(1_000);
  });

  test("attempts counts the delays handed out; reset() starts over at initialMs", () => {
    const b = backoff();
    expect(b.attempts).toBe(0);
    take(b, 3);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(take(b, 2)).toEqual([100, 200]);
  });
});

describe("Backoff jitter", () => {
  test("random 0 gives the low bound base*(1-jitter); random ~1 gives the base", () => {
    expect(take(backoff({ jitter: 0.5, random: () => 0 }), 5)).toEqual([50, 100, 200, 400, 500]);
    expect(take(backoff({ jitter: 0.5, random: () => ALMOST_ONE }), 5)).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
  });

  test("full jitter (1) reaches 0; jitter scales linearly with random", () => {
    expect(backoff({ jitter: 1, random: () => 0 }).next()).toBe(0);
    expect(backoff({ jitter: 1, random: () => 0.25 }).next()).toBe(25);
    expect(backoff({ initialMs: 1_000, jitter: 0.3, random: () => 0.5 }).next()).toBe(850);
  });

  test("every delay stays inside [base*(1-jitter), base] and random is drawn once per delay", () => {
    const values = [0, 0.1, 0.5, 0.9, ALMOST_ONE];
    let i = 0;
    const random = mock(() => values[i++ % values.length] ?? 0);
    const b = backoff({ jitter: 0.4, random });
    let base = 100;
    for (let n = 0; n < 12; n++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(Math.round(base * 0.6));
      expect(d).toBeLessThanOrEqual(base);
      base = Math.min(1_000, base * 2);
    }
    expect(random).toHaveBeenCalledTimes(12);
  });

  test("the default policy starts between 500 ms and 1 s and caps at 60 s", () => {
    expect(new Backoff({ ...DEFAULT_BACKOFF, random: () => 0 }).next()).toBe(500);
    const high = new Backoff({ ...DEFAULT_BACKOFF, random: () => ALMOST_ONE });
    expect(high.next()).toBe(1_000);
    for (let n = 0; n < 20; n++) high.next();
    expect(high.next()).toBe(60_000);
  });
});
