import type { ExportStats } from "../../export/export-stats.ts";
import type { ProcessStats } from "../../metrics/process-stats.ts";
import type { HistogramSample } from "../../metrics/registry.ts";
import type { GrpcPatch } from "../../proto/service.ts";
import type { ControlStatus } from "../control-channel.ts";
import type { Md5Status } from "../md5/md5-support.ts";
import type { SessionSnapshot } from "../session-snapshot.ts";
import type { HealthReport } from "./agent-health.ts";

/**
 * The agent's status at one instant, as `RunningAgent.status()` returns it: the one shape
 * the agent produces and the status renderers, health checks and metrics read.
 */
export interface AgentStatus {
  readonly instance: string;
  readonly control: ControlStatus;
  readonly listeners: readonly string[];
  readonly sessions: readonly SessionSnapshot[];
  readonly denyListSize: number;
  readonly blockedAttempts: number;
  readonly sessionsTotal: number;
  /** Data calls left without an HTTP/2 read gate (src/relay/http2-read-gate.ts). */
  readonly readGatesMissed: number;
  /** Router sockets relayed with an unlimited read-ahead (src/relay/read-ahead-watch.ts). */
  readonly readAheadMissed: number;
  /** Which of the grpc-js patches took (src/proto/service.ts, GRPC_PATCHES). */
  readonly grpcPatches: Readonly<Record<GrpcPatch, boolean>>;
  readonly pool: { readonly connections: number; readonly streams: readonly number[] };
  /** TCP-MD5 state (disabled, with the kernel's counters, without --enable-md5-support). */
  readonly md5: Md5Status;
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

/** Bridging counters summed over sessions that have ended (docs/resilience.md). */
export interface BridgeTotals {
  readonly bridged: number;
  readonly resumed: number;
  readonly routeRefreshesSent: number;
  readonly routerUpdatesDropped: number;
  readonly routerBytesDropped: number;
  readonly stallsCovered: number;
}

/**
 * Everything the agent's status endpoints read, taken at one instant: the agent's status,
 * the parts of its configuration the reference shows, the health report, counters folded
 * from events, and process figures. The renderers are pure functions of this value.
 */
export interface AgentSnapshot {
  readonly now: number;
  readonly status: AgentStatus;
  readonly config: AgentConfigView;
  readonly health: HealthReport;
  readonly closedTotals: RelayTotals;
  /** Data streams re-attached (resume or RESTART) in sessions that have ended. */
  readonly reattachedClosed?: number;
  /** Bridging counters of ended sessions (absent: nothing was bridged). */
  readonly bridgeTotals?: BridgeTotals;
  readonly heartbeatRtt: HistogramSample;
  readonly exports: readonly ExportStats[];
  readonly process: ProcessStats;
}
