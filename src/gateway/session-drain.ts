import type { Clock } from "../core/clock.ts";
import { jsonResponse } from "../core/http-server.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionTable } from "./session-table.ts";

/**
 * Moving the gateway's sessions elsewhere (docs/architecture.md, "RESTART"): a drain
 * (new Data streams refused, a graceful RESTART on every live one, as a stop does first),
 * a RESTART of every stream without draining (far ends held for re-attach), and the wait
 * for drained sessions to end. Also their POST routes (/admin/drain, /admin/restart-streams).
 */
export interface SessionDrain {
  /** Starts a drain; returns how many sessions were asked to restart. */
  drain(): number;
  /** RESTART on every live Data stream without draining; returns how many. */
  restartStreams(): number;
  /** Resolves when every session has ended, or after `ms`. */
  ended(ms: number): Promise<void>;
  readonly routes: Readonly<Record<string, () => Promise<Response>>>;
}

/** How often `ended` looks at the session table. */
const ENDED_POLL_MS = 50;

export function sessionDrain(sessions: SessionTable, log: Logger, clock: Clock): SessionDrain {
  const drain = (): number => {
    const already = sessions.draining;
    const n = sessions.drain(clock.now());
    if (!already) log.info("draining: RESTART sent on every Data stream", { sessions: n });
    return n;
  };
  const restartStreams = (): number => {
    const n = sessions.restartStreams();
    log.info("RESTART sent on every Data stream; far ends held for re-attach", { sessions: n });
    return n;
  };
  const ended = async (ms: number) => {
    const until = clock.now() + ms;
    while (sessions.size > 0 && clock.now() < until) {
      await new Promise<void>((resolve) => clock.schedule(ENDED_POLL_MS, resolve));
    }
    if (sessions.size > 0) log.warn("drain timed out", { sessions: sessions.size });
  };
  return {
    drain,
    restartStreams,
    ended,
    routes: {
      "/admin/drain": async () => jsonResponse({ kind: "draining", sessions: drain() }, false),
      "/admin/restart-streams": async () =>
        jsonResponse({ kind: "restarting", sessions: restartStreams() }, false),
    },
  };
}
