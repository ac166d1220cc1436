import { type HttpServer, jsonResponse as json, serveHttp } from "../core/http-server.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheusText } from "../metrics/prometheus-text.ts";
import { agentMetricFamilies } from "./status/agent-metrics.ts";
import type { AgentSnapshot } from "./status/agent-snapshot.ts";
import {
  findSession,
  renderAdminStatus,
  renderHealth,
  renderSession,
  renderSessions,
} from "./status/agent-status-view.ts";

/**
 * The agent's status and metrics endpoint (`--metrics-addr`:`--metrics-port`): the
 * reference product's `/hc`, `/admin/status`, `/admin/sessions[/<device ip>]`, plus
 * Prometheus `/metrics`. Every handler takes one snapshot and renders it with a pure
 * function; nothing here changes the agent.
 */
export type StatusServer = HttpServer;

export interface StatusListen {
  readonly addr: string;
  readonly port: number;
}

const SESSIONS_PREFIX = "/admin/sessions/";

/** What a POST may ask of the agent. */
export interface StatusActions {
  /**
   * Move every session (or the one with this session-id) to a new Data stream by a graceful
   * RESTART (docs/resilience.md, "Graceful RESTART"); returns how many were asked.
   */
  restart(sessionId?: string): number;
}

/** The response for one request (exported for tests: no socket needed). */
export function statusResponse(
  req: Request,
  snapshot: () => AgentSnapshot,
  actions?: StatusActions,
): Response {
  const url = new URL(req.url);
  const pretty = url.searchParams.has("pretty");
  if (req.method === "POST" && url.pathname === "/admin/restart" && actions) {
    const id = url.searchParams.get("session-id") ?? undefined;
    return json({ kind: "restarting", sessions: actions.restart(id) }, pretty);
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return json({ error: "method not allowed" }, pretty, 405);
  }
  const path = url.pathname;
  if (path === "/hc") {
    const snap = snapshot();
    return json(renderHealth(snap.health), pretty, snap.health.status === "ok" ? 200 : 503);
  }
  if (path === "/admin/status") {
    const snap = snapshot();
    return json(renderAdminStatus(snap.status, snap.config, snap.now), pretty);
  }
  if (path === "/admin/sessions" || path === SESSIONS_PREFIX) {
    const snap = snapshot();
    return json(renderSessions(snap.status.sessions, snap.now), pretty);
  }
  if (path.startsWith(SESSIONS_PREFIX)) {
    let key: string;
    try {
      key = decodeURIComponent(path.slice(SESSIONS_PREFIX.length));
    } catch {
      return json({ error: "malformed device address in the path" }, pretty, 400);
    }
    const snap = snapshot();
    const found = findSession(snap.status.sessions, key);
    if (found.kind === "invalid") {
      return json({ error: `not an IP address: ${JSON.stringify(found.text)}` }, pretty, 400);
    }
    if (found.kind === "none")
      return json({ error: `no session for device ${found.ip}` }, pretty, 404);
    return json(renderSession(found.session, snap.now), pretty);
  }
  if (path === "/metrics") {
    return new Response(renderPrometheusText(agentMetricFamilies(snapshot())), {
      headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
    });
  }
  return json({ error: `no such endpoint: ${path}` }, pretty, 404);
}

export function startStatusServer(
  listen: StatusListen,
  snapshot: () => AgentSnapshot,
  actions?: StatusActions,
): StatusServer {
  return serveHttp({
    host: listen.addr,
    port: listen.port,
    what: "status and metrics",
    flags: "--metrics-addr/--metrics-port",
    fetch: (req) => statusResponse(req, snapshot, actions),
  });
}
