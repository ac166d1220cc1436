/**
 * What a test started (gateways, agents, servers, sockets) and must stop before the next one:
 * `const cleanups = cleanupsAfterEach();` at the top of a test file registers an afterEach
 * that runs everything `cleanups.push`ed during the test, newest first, one at a time
 * (awaited). One that throws does not keep the others from running; the first error is
 * rethrown once all ran, so the test still fails. (A run that dies half-way is cleanup.ts's.)
 */
import { afterEach } from "bun:test";

export type Cleanup = () => unknown;

export interface TestCleanups {
  /** Run `fns` after the current test (the last pushed runs first). */
  push(...fns: Cleanup[]): void;
}

/** Registers the afterEach; call once per test file, at its top level. */
export function cleanupsAfterEach(): TestCleanups {
  const pending: Cleanup[] = [];
  afterEach(() => runCleanups(pending.splice(0)));
  return { push: (...fns) => void pending.push(...fns) };
}

/** Runs `fns` newest first, each awaited; rethrows the first error after running all. */
export async function runCleanups(fns: readonly Cleanup[]): Promise<void> {
  let failed = false;
  let first: unknown;
  for (const fn of [...fns].reverse()) {
    try {
      await fn();
    } catch (err) {
      if (!failed) first = err;
      failed = true;
    }
  }
  if (failed) throw first;
}
