/**
 * Readiness of FFI-opened file descriptors, through signal-driven I/O (O_ASYNC): the kernel
 * raises SIGIO when such a descriptor gets data, and Bun runs `process.on("SIGIO")` listeners
 * on the event loop. One process-wide listener dispatches to every registered handler.
 *
 * The listener is installed once and never removed: when the last SIGIO listener goes, Bun
 * restores the default action, and the default action of SIGIO is to end the process
 * (measured under Bun 1.4.5: a SIGIO after `process.off` kills it). A signal listener does
 * not keep the event loop alive.
 */
const handlers = new Set<() => void>();
let installed = false;

function dispatch(): void {
  for (const h of [...handlers]) h();
}

/** Call `handler` on every SIGIO; returns the function that unregisters it. */
export function onSignalIo(handler: () => void): () => void {
  if (!installed) {
    process.on("SIGIO", dispatch);
    installed = true;
  }
  handlers.add(handler);
  return () => {
    handlers.delete(handler);
  };
}
