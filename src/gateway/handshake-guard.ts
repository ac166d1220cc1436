import type { Http2Server, Http2Session } from "node:http2";
import type { Socket } from "node:net";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";

/**
 * Connections to the agents' port that have not finished their handshake (TLS, then the
 * HTTP/2 preface): each gets `timeoutMs` to do so, and at most `maxPending` may be
 * waiting at once; past that, a new connection is closed as soon as it is accepted. Bare
 * TCP connections that never speak would otherwise be held forever. Like flow-control.ts
 * this reaches into grpc-js's `http2Servers` map (no server option exists for it); if a
 * grpc-js upgrade removes it, a warning says so.
 */
export interface HandshakeLimits {
  readonly timeoutMs: number;
  readonly maxPending: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = { timeoutMs: 10_000, maxPending: 512 };

/** How often closes are summed into one log line: a flood writes one line per interval. */
const REPORT_INTERVAL_MS = 10_000;

function key(remoteAddress: string | undefined, remotePort: number | undefined): string {
  return `${remoteAddress ?? "?"}|${remotePort ?? 0}`;
}

export interface HandshakeGuard {
  /** Connections now waiting for their handshake. */
  pending(): number;
  stop(): void;
}

export function guardHandshakes(
  server: grpc.Server,
  logger: Logger,
  limits: HandshakeLimits,
  now: () => number,
): HandshakeGuard | undefined {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn("cannot limit pending handshakes: bare connections are held until they close");
    return undefined;
  }
  const waiting = new Map<string, { socket: Socket; since: number }>();
  const closed = { timedOut: 0, overCap: 0 };
  let lastReport = now();

  const report = (force: boolean) => {
    const total = closed.timedOut + closed.overCap;
    if (total === 0 || (!force && now() - lastReport < REPORT_INTERVAL_MS)) return;
    logger.warn("closed connections that did not finish the handshake", {
      timed_out: closed.timedOut,
      over_cap: closed.overCap,
      pending: waiting.size,
      timeout_ms: limits.timeoutMs,
      max_pending: limits.maxPending,
    });
    closed.timedOut = 0;
    closed.overCap = 0;
    lastReport = now();
  };

  const sweep = () => {
    const t = now();
    for (const [k, w] of waiting) {
      if (t - w.since < limits.timeoutMs) continue;
      waiting.delete(k);
      closed.timedOut++;
      w.socket.destroy();
    }
    report(false);
  };

  for (const h2 of servers.keys() as IterableIterator<Http2Server>) {
    // Before grpc-js's own listener: a connection over the cap never reaches TLS.
    h2.prependListener("connection", (socket: Socket) => {
      if (waiting.size >= limits.maxPending) {
        closed.overCap++;
        socket.destroy();
        report(closed.overCap === 1 && closed.timedOut === 0);
        return;
      }
      const k = key(socket.remoteAddress, socket.remotePort);
      waiting.set(k, { socket, since: now() });
      socket.once("close", () => {
        if (waiting.get(k)?.socket === socket) waiting.delete(k);
      });
    });
    h2.on("session", (session: Http2Session) => {
      waiting.delete(key(session.socket?.remoteAddress, session.socket?.remotePort));
    });
  }
  const every = Math.max(50, Math.min(1_000, Math.floor(limits.timeoutMs / 4)));
  const timer = setInterval(sweep, every);
  timer.unref?.();
  return {
    pending: () => waiting.size,
    stop() {
      clearInterval(timer);
      report(true);
    },
  };
}
