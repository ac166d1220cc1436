/**
 * Last-resort cleanup for test resources (namespaces, daemons, temp dirs).
 *
 * Tests release what they create in afterAll/afterEach; this registry is the safety net for a
 * run that crashes, times out or is interrupted, and for what is kept for the whole run (a C
 * fixture compiled once, a topology's config directory): on process exit, SIGINT, SIGTERM and
 * SIGHUP every registered function runs synchronously, newest first. `bun test` does not emit
 * "exit" when it finishes (Bun 1.4.5: the handlers never ran, and /tmp filled with the
 * directories they were to remove), so test/support/run-end.ts, which bunfig.toml preloads
 * into every `bun test`, calls `runProcessCleanups` from a global afterAll. Functions must be
 * synchronous (an exiting process cannot await) and must not throw; errors are swallowed.
 */

type SyncCleanup = () => void;

const registry = new Map<number, SyncCleanup>();
let nextId = 1;
let installed = false;

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/** Run (and forget) every registered cleanup, newest first. */
export function runProcessCleanups(): void {
  const entries = [...registry.entries()].reverse();
  registry.clear();
  for (const [, fn] of entries) {
    try {
      fn();
    } catch {
      // Best effort: one failing cleanup must not prevent the others.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", runProcessCleanups);
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.once(signal, () => {
      runProcessCleanups();
      process.exit(128 + number);
    });
  }
}

/** Register `fn` to run if the process exits before `unregister` is called. */
export function onProcessExit(fn: SyncCleanup): () => void {
  install();
  const id = nextId++;
  registry.set(id, fn);
  return () => {
    registry.delete(id);
  };
}
