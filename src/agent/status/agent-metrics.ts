import { addProcessMetrics } from "../../metrics/process-metrics.ts";
import { type MetricFamily, MetricsRegistry } from "../../metrics/registry.ts";
import { isBridgingState } from "../bridge/bridge-state.ts";
import type { ControlState } from "../control-channel.ts";
import { HEALTH_STATUSES } from "./agent-health.ts";
import type { AgentSnapshot, BridgeTotals } from "./agent-snapshot.ts";

/**
 * The agent's metrics, from a snapshot (pure): what `GET /metrics` renders and what the
 * metrics export ships. Directions: "up" is router → gateway, "down" gateway → router.
 *
 * Cardinality: per-device series (label `device_ip`) exist only for the per-session
 * buffered bytes, and only while at most MAX_DEVICE_SERIES devices have open sessions;
 * above that only the agent-wide sum and maximum are exported. Everything else is
 * agent-wide, with labels from small fixed sets (direction, state, signal, status).
 */
export const MAX_DEVICE_SERIES = 50;

const CONTROL_STATES: readonly ControlState[] = [
  "idle",
  "connecting",
  "ready",
  "backoff",
  "closed",
];

/**
 * BGP-aware bridging (only when it is on): sessions bridging now, and totals over open and
 * ended sessions.
 */
function addBridgeMetrics(r: MetricsRegistry, snap: AgentSnapshot): void {
  if (!snap.bridgeTotals) return; // bridging is off
  const bridges = snap.status.sessions.flatMap((s) => (s.bridge ? [s.bridge] : []));
  r.gauge(
    "bgproxy_agent_sessions_bridging",
    "Router sessions kept up by the agent while their far end is gone",
  ).set({}, bridges.filter((b) => isBridgingState(b.state)).length);
  const total = (pick: (b: BridgeTotals) => number) =>
    (snap.bridgeTotals ? pick(snap.bridgeTotals) : 0) +
    bridges.reduce((acc, b) => acc + pick(b), 0);
  const counters: [string, string, (b: BridgeTotals) => number][] = [
    [
      "bgproxy_agent_bridged_total",
      "Times a far end was lost and the router's session kept up",
      (b) => b.bridged,
    ],
    [
      "bgproxy_agent_bridge_resumes_total",
      "Times a new far end took over a bridged session",
      (b) => b.resumed,
    ],
    [
      "bgproxy_agent_route_refreshes_sent_total",
      "ROUTE-REFRESH messages sent to routers after a bridge",
      (b) => b.routeRefreshesSent,
    ],
    [
      "bgproxy_agent_bridge_dropped_updates_total",
      "Router UPDATEs dropped while bridging",
      (b) => b.routerUpdatesDropped,
    ],
    [
      "bgproxy_agent_bridge_dropped_bytes_total",
      "Router bytes dropped while bridging",
      (b) => b.routerBytesDropped,
    ],
    [
      "bgproxy_agent_bridge_stalls_covered_total",
      "Times a silent far end was covered with KEEPALIVEs to the router",
      (b) => b.stallsCovered,
    ],
  ];
  for (const [name, help, pick] of counters) r.counter(name, help).setTotal({}, total(pick));
}

/** Data streams re-attached to the far end the gateway held (resume after a loss, RESTART). */
function addReattachMetrics(r: MetricsRegistry, snap: AgentSnapshot): void {
  const open = snap.status.sessions.reduce((acc, s) => acc + (s.resumes ?? 0), 0);
  r.counter(
    "bgproxy_agent_stream_reattaches_total",
    "Data streams re-attached to the far end the gateway held (resume after a lost stream, or after a RESTART)",
  ).setTotal({}, (snap.reattachedClosed ?? 0) + open);
}

export function agentMetricFamilies(snap: AgentSnapshot): MetricFamily[] {
  const r = new MetricsRegistry();
  const { status, closedTotals: closed } = snap;
  const sessions = status.sessions;

  r.gauge("bgproxy_agent_info", "Agent identity (always 1)", ["instance", "version"]).set(
    { instance: status.instance, version: snap.config.version },
    1,
  );
  const health = r.gauge(
    "bgproxy_agent_health_status",
    "1 for the current /hc status, 0 for the others",
    ["status"],
  );
  for (const s of HEALTH_STATUSES) health.set({ status: s }, s === snap.health.status ? 1 : 0);

  r.gauge("bgproxy_agent_sessions_active", "Router sessions open now").set({}, sessions.length);
  r.counter("bgproxy_agent_sessions_total", "Router sessions accepted since start").setTotal(
    {},
    status.sessionsTotal,
  );
  const sum = (pick: (s: (typeof sessions)[number]) => number) =>
    sessions.reduce((acc, s) => acc + pick(s), 0);
  const bytes = r.counter(
    "bgproxy_agent_relay_bytes_total",
    "Bytes relayed (up: router to gateway, down: gateway to router)",
    ["direction"],
  );
  bytes.setTotal({ direction: "up" }, closed.bytesUp + sum((s) => s.bytesUp));
  bytes.setTotal({ direction: "down" }, closed.bytesDown + sum((s) => s.bytesDown));
  const messages = r.counter(
    "bgproxy_agent_relay_messages_total",
    "Data stream messages (up: sent to the gateway, down: received from it)",
    ["direction"],
  );
  messages.setTotal({ direction: "up" }, closed.messagesUp + sum((s) => s.messagesUp));
  messages.setTotal({ direction: "down" }, closed.messagesDown + sum((s) => s.messagesDown));

  r.gauge(
    "bgproxy_agent_buffered_bytes",
    "Bytes held in user space for all sessions (router to gateway, not yet taken by HTTP/2)",
  ).set(
    {},
    sum((s) => s.bufferedBytes),
  );
  r.gauge("bgproxy_agent_session_buffered_bytes_max", "Largest buffered bytes of one session").set(
    {},
    sessions.reduce((m, s) => Math.max(m, s.bufferedBytes), 0),
  );
  const perDevice = new Map<string, number>();
  for (const s of sessions) {
    perDevice.set(s.tuple.deviceIp, (perDevice.get(s.tuple.deviceIp) ?? 0) + s.bufferedBytes);
  }
  const buffered = r.gauge(
    "bgproxy_agent_session_buffered_bytes",
    `Buffered bytes of a device's sessions (only while at most ${MAX_DEVICE_SERIES} devices have sessions)`,
    ["device_ip"],
  );
  if (perDevice.size <= MAX_DEVICE_SERIES) {
    for (const [ip, b] of [...perDevice].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      buffered.set({ device_ip: ip }, b);
    }
  }

  addBridgeMetrics(r, snap);
  addReattachMetrics(r, snap);

  const c = status.control;
  r.gauge("bgproxy_agent_control_stream_up", "1 while the Control stream is connected").set(
    {},
    c.connected ? 1 : 0,
  );
  const state = r.gauge(
    "bgproxy_agent_control_stream_state",
    "1 for the Control stream's current state",
    ["state"],
  );
  for (const s of CONTROL_STATES) state.set({ state: s }, s === c.state ? 1 : 0);
  r.counter(
    "bgproxy_agent_control_stream_reconnects_total",
    "Times the Control stream went down and was redialled",
  ).setTotal({}, c.reconnects);
  r.counter(
    "bgproxy_agent_control_stream_messages_received_total",
    "Messages received on the Control stream",
  ).setTotal({}, c.messagesRx);
  r.histogram(
    "bgproxy_agent_heartbeat_rtt_seconds",
    "Round trip of Control-stream keepalives",
    snap.heartbeatRtt.bounds,
  ).load({}, snap.heartbeatRtt);

  r.gauge("bgproxy_agent_deny_list_size", "Device addresses deny-listed now").set(
    {},
    status.denyListSize,
  );
  r.counter(
    "bgproxy_agent_blocked_connections_total",
    "Router connections refused because their address was deny-listed",
  ).setTotal({}, status.blockedAttempts);
  r.counter(
    "bgproxy_agent_read_gates_missed_total",
    "Data streams relayed without the HTTP/2 read gate (grpc-js or Bun internals changed): unbounded buffering possible",
  ).setTotal({}, status.readGatesMissed);
  r.counter(
    "bgproxy_agent_read_ahead_missed_total",
    "Router sockets relayed with an unlimited read-ahead (Bun internals changed): read pacing no longer holds reads back",
  ).setTotal({}, status.readAheadMissed);
  const patches = r.gauge(
    "bgproxy_agent_grpc_patch_applied",
    "Changes bgproxy makes inside grpc-js: 1 applied, 0 not (a grpc-js upgrade moved what they reach; warned at start): relaying is unaffected, a copy per message or memory per call is lost. Should stay 1",
    ["patch"],
  );
  for (const [patch, applied] of Object.entries(status.grpcPatches)) {
    patches.set({ patch }, applied ? 1 : 0);
  }
  r.gauge("bgproxy_agent_grpc_connections", "HTTP/2 connections in the Data pool").set(
    {},
    status.pool.connections,
  );
  r.gauge("bgproxy_agent_grpc_streams", "Data streams on the pool's connections").set(
    {},
    status.pool.streams.reduce((a, b) => a + b, 0),
  );
  r.gauge("bgproxy_agent_md5_keys_installed", "TCP-MD5 keys installed on the router listeners").set(
    {},
    status.md5?.keysInstalled ?? 0,
  );
  const kernel = r.counter(
    "bgproxy_agent_tcp_md5_segments_total",
    "The kernel's TCP-MD5 verdicts on router segments (TCPMD5NotFound: unsigned from a keyed peer; TCPMD5Unexpected: signed from an unkeyed peer; TCPMD5Failure: wrong signature)",
    ["counter"],
  );
  for (const [name, value] of Object.entries(status.md5?.kernelCounters ?? {})) {
    kernel.setTotal({ counter: name }, value);
  }

  const queued = r.gauge(
    "bgproxy_agent_export_queued",
    "Log records (logs) or snapshots (metrics) waiting to be exported",
    ["signal"],
  );
  const sent = r.counter(
    "bgproxy_agent_export_sent_total",
    "Log records or metric snapshots accepted by the export endpoint",
    ["signal"],
  );
  const dropped = r.counter(
    "bgproxy_agent_export_dropped_total",
    "Log records or metric snapshots dropped (queue full, refused, or superseded)",
    ["signal"],
  );
  const failed = r.counter(
    "bgproxy_agent_export_failed_requests_total",
    "Export requests that failed",
    ["signal"],
  );
  for (const e of snap.exports) {
    const labels = { signal: e.signal };
    queued.set(labels, e.queued);
    sent.setTotal(labels, e.sent);
    dropped.setTotal(labels, e.dropped);
    failed.setTotal(labels, e.failedRequests);
  }

  addProcessMetrics(r, snap.process);
  return r.collect();
}
