import type { Http2Server, Http2Session } from "node:http2";
import type { Socket } from "node:net";
import type * as grpc from "@grpc/grpc-js";
import type { Clock, TimerHandle } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";

/**
 * Connections to the agents' port that are not logged in yet: first the handshake (TLS,
 * then the HTTP/2 preface), which must finish within `timeoutMs`; then the first good
 * login (any call whose credentials are accepted), which must come within
 * `loginTimeoutMs`. At most `maxPending` such connections may exist at once; past that, a
 * new connection is closed as soon as it is accepted. Bare TCP connections that never
 * speak, or HTTP/2 connections that never log in, would otherwise be held forever. Like
 * flow-control.ts this reaches into grpc-js's `http2Servers` map (no server option exists
 * for it); if a grpc-js upgrade removes it, a warning says so. `clock` dates the connections
 * and runs the sweep that closes the late ones (every quarter of `timeoutMs`, 50 ms to 1 s).
 */
export interface HandshakeLimits {
  readonly timeoutMs: number;
  readonly loginTimeoutMs: number;
  readonly maxPending: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = {
  timeoutMs: 10_000,
  loginTimeoutMs: 30_000,
  maxPending: 512,
};

/** How often closes are summed into one log line: a flood writes one line per interval. */
const REPORT_INTERVAL_MS = 10_000;

/** The key grpc-js's server `getPeer()` gives a call: "address:port". */
function peerKey(remoteAddress: string | undefined, remotePort: number | undefined): string {
  return `${remoteAddress ?? "?"}:${remotePort ?? 0}`;
}

interface Waiting {
  readonly close: () => void;
  readonly since: number;
  /** "handshake" until the HTTP/2 session is up, then "login". */
  stage: "handshake" | "login";
}

export interface HandshakeGuard {
  /** Connections now waiting for their handshake or their first login. */
  pending(): number;
  /** A call from `peer` (grpc-js `getPeer()`) logged in: its connection is trusted. */
  loggedIn(peer: string): void;
  stop(): void;
}

export function guardHandshakes(
  server: grpc.Server,
  logger: Logger,
  limits: HandshakeLimits,
  clock: Clock,
): HandshakeGuard | undefined {
  const now = () => clock.now();
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn("cannot limit pending handshakes: bare connections are held until they close");
    return undefined;
  }
  const waiting = new Map<string, Waiting>();
  const closed = { timedOut: 0, noLogin: 0, overCap: 0 };
  /** The first close logs at once; later ones are summed into a line per REPORT_INTERVAL_MS. */
  let lastReport = Number.NEGATIVE_INFINITY;

  const report = (force: boolean) => {
    const total = closed.timedOut + closed.noLogin + closed.overCap;
    if (total === 0 || (!force && now() - lastReport < REPORT_INTERVAL_MS)) return;
    logger.warn("closed connections that did not finish the handshake", {
      timed_out: closed.timedOut,
      no_login: closed.noLogin,
      over_cap: closed.overCap,
      pending: waiting.size,
      timeout_ms: limits.timeoutMs,
      login_timeout_ms: limits.loginTimeoutMs,
      max_pending: limits.maxPending,
    });
    closed.timedOut = 0;
    closed.noLogin = 0;
    closed.overCap = 0;
    lastReport = now();
  };

  const sweep = () => {
    const t = now();
    for (const [k, w] of waiting) {
      const limit = w.stage === "handshake" ? limits.timeoutMs : limits.loginTimeoutMs;
      if (t - w.since < limit) continue;
      waiting.delete(k);
      if (w.stage === "handshake") closed.timedOut++;
      else closed.noLogin++;
      w.close();
    }
    report(false);
  };

  for (const h2 of servers.keys() as IterableIterator<Http2Server>) {
    // Before grpc-js's own listener: a connection over the cap never reaches TLS.
    h2.prependListener("connection", (socket: Socket) => {
      if (waiting.size >= limits.maxPending) {
        closed.overCap++;
        socket.destroy();
        report(false);
        return;
      }
      const k = peerKey(socket.remoteAddress, socket.remotePort);
      const entry: Waiting = { close: () => socket.destroy(), since: now(), stage: "handshake" };
      waiting.set(k, entry);
      socket.once("close", () => {
        if (waiting.get(k) === entry) waiting.delete(k);
      });
    });
    h2.on("session", (session: Http2Session) => {
      const k = peerKey(session.socket?.remoteAddress, session.socket?.remotePort);
      const entry = waiting.get(k);
      if (!entry) return;
      waiting.set(k, { close: () => session.destroy(), since: now(), stage: "login" });
      session.once("close", () => waiting.delete(k));
    });
  }
  const every = Math.max(50, Math.min(1_000, Math.floor(limits.timeoutMs / 4)));
  let timer: TimerHandle | undefined;
  const arm = () => {
    timer = clock.schedule(every, () => {
      sweep();
      if (timer !== undefined) arm();
    });
  };
  arm();
  return {
    pending: () => waiting.size,
    loggedIn: (peer) => {
      waiting.delete(peer);
    },
    stop() {
      timer?.cancel();
      timer = undefined;
      report(true);
    },
  };
}
