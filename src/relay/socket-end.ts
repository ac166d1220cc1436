import type { Duplex } from "node:stream";
import { type Clock, systemClock } from "../core/clock.ts";

/**
 * How a relayed socket is ended from our side: at once with a reset (an abort, the peer's
 * KILL passed on), or gracefully, a FIN after the bytes still queued for it (a NOTIFICATION
 * just written) and a destroy only if it is not closed within a bounded grace.
 */
export interface ResettableSocket extends Duplex {
  resetAndDestroy?: () => void;
}

/** RST where the socket can send one (a TCP socket), a plain destroy otherwise. */
export function resetSocket(socket: ResettableSocket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else socket.destroy();
}

/** FIN after the queued bytes; destroyed when not closed within `graceMs`. */
export function endSocketWithin(socket: Duplex, graceMs: number, clock: Clock = systemClock): void {
  if (socket.destroyed) return;
  socket.end();
  const timer = clock.schedule(graceMs, () => socket.destroy());
  socket.once("close", () => timer.cancel());
}
