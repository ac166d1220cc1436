/** Bounded polling: every wait in the test suite ends by itself. */

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

/** Thrown by a probe to end the wait at once (e.g. the daemon being waited on has exited). */
export class WaitAborted extends Error {
  override readonly name = "WaitAborted";
}

export interface WaitOptions {
  timeoutMs: number;
  /** Poll interval; default 100 ms. */
  intervalMs?: number;
  /** Describes what was awaited, for the error message. */
  what: string;
  /** Extra diagnostics appended to the timeout error (e.g. a daemon's log tail). */
  diagnostics?: () => string | Promise<string>;
}

/**
 * Poll `probe` until it returns a value other than `undefined`/`false`, and return that value.
 * Errors thrown by the probe count as "not yet" (the last one is reported on timeout), except
 * `WaitAborted`, which ends the wait at once.
 */
export async function waitUntil<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions,
): Promise<T> {
  const interval = options.intervalMs ?? 100;
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastValue = value;
    } catch (err) {
      if (err instanceof WaitAborted) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await Bun.sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  let message = `timed out after ${options.timeoutMs} ms waiting for ${options.what}`;
  if (lastError !== undefined) message += `; last error: ${String(lastError)}`;
  else message += `; last value: ${String(lastValue)}`;
  if (options.diagnostics) {
    try {
      message += `\n${await options.diagnostics()}`;
    } catch {
      // diagnostics are optional
    }
  }
  throw new WaitTimeoutError(message);
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
