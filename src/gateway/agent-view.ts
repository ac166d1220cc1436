import { rfc3339Nano } from "../core/timestamp.ts";
import type { AgentEntry } from "./agent-directory.ts";

/**
 * `GET /api/agents`: one object per connected agent (its Control stream is up), oldest
 * connection first. Pure renderer; never a credential (the e-mail is shown, as the
 * reference's status shows it; the token never).
 */
export interface AgentView {
  instance: string;
  version: string;
  email: string;
  site: number;
  remote_address: string;
  connected_since: string;
  last_heartbeat: string;
  heartbeat_age_ms: number;
  active_sessions: number;
  /** When the agent last pushed metrics / logs to this gateway; null if never. */
  last_metrics_export: string | null;
  last_log_export: string | null;
}

export interface AgentViewInput {
  readonly entries: readonly Pick<AgentEntry, "info" | "connectedAt" | "lastHeard">[];
  readonly sessionsOf: (instance: string) => number;
  readonly lastMetrics: ReadonlyMap<string, number>;
  readonly lastLogs: ReadonlyMap<string, number>;
  readonly now: number;
}

export function renderAgents(input: AgentViewInput): AgentView[] {
  const at = (t: number | undefined) => (t === undefined ? null : rfc3339Nano(t));
  return [...input.entries]
    .sort((a, b) => a.connectedAt - b.connectedAt)
    .map((e) => ({
      instance: e.info.instance,
      version: e.info.version,
      email: e.info.email,
      site: e.info.site,
      remote_address: e.info.peer,
      connected_since: rfc3339Nano(e.connectedAt),
      last_heartbeat: rfc3339Nano(e.lastHeard),
      heartbeat_age_ms: Math.max(0, Math.round(input.now - e.lastHeard)),
      active_sessions: input.sessionsOf(e.info.instance),
      last_metrics_export: at(input.lastMetrics.get(e.info.instance)),
      last_log_export: at(input.lastLogs.get(e.info.instance)),
    }));
}
