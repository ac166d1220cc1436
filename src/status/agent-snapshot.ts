import type { ControlStatus } from "../agent/control-channel.ts";
import type { SessionSnapshot } from "../agent/router-session.ts";
import type { ProcessStats } from "../metrics/process-stats.ts";
import type { HistogramSample } from "../metrics/registry.ts";
import type { HealthReport } from "./agent-health.ts";

/**
 * Everything the agent's status endpoints read, taken at one instant: the agent's status
 * (as `RunningAgent.status()` returns it), the parts of its configuration the reference
 * shows, the health report, counters folded from events, and process figures. The
 * renderers are pure functions of this value.
 */
export interface AgentStatusInput {
  readonly instance: string;
  readonly control: ControlStatus;
  readonly listeners: readonly string[];
  readonly sessions: readonly SessionSnapshot[];
  readonly denyListSize: number;
  readonly blockedAttempts: number;
  readonly sessionsTotal: number;
  readonly pool: { readonly connections: number; readonly streams: readonly number[] };
  /** TCP-MD5 state, when the agent reports it. */
  readonly md5?: {
    readonly enabled?: boolean;
    readonly interface?: string;
    readonly keysInstalled?: number;
    /** "available", "unavailable on this kernel" or "not probed". */
    readonly tcpAo?: string;
    /** The kernel's TcpExt TCPMD5* counters, when readable. */
    readonly kernelCounters?: {
      readonly TCPMD5NotFound: number;
      readonly TCPMD5Unexpected: number;
      readonly TCPMD5Failure: number;
    } | null;
  };
}

/** The configuration as `/admin/status` shows it (never the token). */
export interface AgentConfigView {
  readonly listenersConfigured: number;
  readonly md5Enabled: boolean;
  readonly md5Interface: string;
  readonly proxyTarget: string;
  readonly apiEmail: string;
  readonly siteId: number;
  readonly version: string;
}

/** Sums over sessions that have ended (open ones are added from their snapshots). */
export interface RelayTotals {
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly messagesUp: number;
  readonly messagesDown: number;
}

export type ExportSignal = "logs" | "metrics";

export interface ExportStats {
  readonly signal: ExportSignal;
  /** Records (logs) or snapshots (metrics) waiting to be sent. */
  readonly queued: number;
  readonly sent: number;
  readonly dropped: number;
  readonly failedRequests: number;
  readonly failing: boolean;
}

export interface AgentSnapshot {
  readonly now: number;
  readonly status: AgentStatusInput;
  readonly config: AgentConfigView;
  readonly health: HealthReport;
  readonly closedTotals: RelayTotals;
  readonly heartbeatRtt: HistogramSample;
  readonly exports: readonly ExportStats[];
  readonly process: ProcessStats;
}
