import { addProcessMetrics } from "./process-metrics.ts";
import type { ProcessStats } from "./process-stats.ts";
import { type MetricFamily, MetricsRegistry } from "./registry.ts";

/**
 * The gateway's own metrics, from a snapshot (pure). Per-device series (labels `device`,
 * `device_ip`) exist while the gateway knows at most MAX_GATEWAY_DEVICE_SERIES devices
 * (the configured list, plus routers accepted on the fly in standalone mode); above that
 * only the totals per state are exported.
 */
export const MAX_GATEWAY_DEVICE_SERIES = 500;

export interface GatewayDeviceFigures {
  readonly name: string;
  readonly ip: string;
  readonly state: "idle" | "connected" | "established";
  readonly sessions: number;
  readonly sessions_total: number;
  readonly updates: number;
  readonly prefixes: { readonly ipv4: number; readonly ipv6: number };
}

export interface GatewayMetricsInput {
  readonly version: string;
  /**
   * The gateway's name (`--name`). When set, `bgproxy_gateway_info`, the session gauges and
   * the Data-stream counter carry it as label `gateway`, so one Prometheus query over all
   * gateways behind a balancer says who holds what.
   */
  readonly gateway?: string;
  /** Data streams accepted since start, by their `backend-pin`: "self", "other" or "none". */
  readonly streamsByPin?: ReadonlyMap<string, number>;
  /** Data calls left without an HTTP/2 read gate since start. */
  readonly readGatesMissed?: number;
  /** Which of the grpc-js patches took (src/proto/service.ts, GRPC_PATCHES). */
  readonly grpcPatches?: Readonly<Record<string, boolean>>;
  /** Target sockets relayed with an unlimited read-ahead since start. */
  readonly readAheadMissed?: number;
  readonly devices: readonly GatewayDeviceFigures[];
  readonly agentsConnected: number;
  /** Export requests by "signal|outcome", items by "signal|accepted|rejected". */
  readonly exportRequests: ReadonlyMap<string, number>;
  readonly exportItems: ReadonlyMap<string, number>;
  readonly agentSeries: number;
  readonly process: ProcessStats;
}

const STATES = ["idle", "connected", "established"] as const;

function split(key: string): [string, string] {
  const at = key.indexOf("|");
  return [key.slice(0, at), key.slice(at + 1)];
}

export function gatewayMetricFamilies(input: GatewayMetricsInput): MetricFamily[] {
  const r = new MetricsRegistry();
  const gw: Record<string, string> = input.gateway === undefined ? {} : { gateway: input.gateway };
  const gwLabels = Object.keys(gw);
  r.gauge("bgproxy_gateway_info", "Gateway version and name (always 1)", [
    "version",
    ...gwLabels,
  ]).set({ version: input.version, ...gw }, 1);
  r.gauge("bgproxy_gateway_agents_connected", "Agents whose Control stream is up").set(
    {},
    input.agentsConnected,
  );
  const byState = r.gauge("bgproxy_gateway_devices", "Known devices by session state", ["state"]);
  for (const s of STATES)
    byState.set({ state: s }, input.devices.filter((d) => d.state === s).length);
  r.gauge(
    "bgproxy_gateway_sessions_active",
    "Sessions relayed now, over all devices",
    gwLabels,
  ).set(
    gw,
    input.devices.reduce((a, d) => a + d.sessions, 0),
  );
  const streams = r.counter(
    "bgproxy_gateway_data_streams_total",
    'Data streams accepted, by backend-pin: "self" (names this gateway), "other", "none"',
    [...gwLabels, "pin"],
  );
  for (const [pin, n] of [...(input.streamsByPin ?? [])].sort()) {
    streams.setTotal({ ...gw, pin }, n);
  }
  if (input.readGatesMissed !== undefined) {
    r.counter(
      "bgproxy_gateway_read_gates_missed_total",
      "Data streams relayed without the HTTP/2 read gate (grpc-js or Bun internals changed): unbounded buffering possible",
      gwLabels,
    ).setTotal(gw, input.readGatesMissed);
  }
  if (input.grpcPatches !== undefined) {
    const patches = r.gauge(
      "bgproxy_gateway_grpc_patch_applied",
      "Changes bgproxy makes inside grpc-js: 1 applied, 0 not (a grpc-js upgrade moved what they reach; warned at start): relaying is unaffected, a copy per message or memory per call is lost. Should stay 1",
      [...gwLabels, "patch"],
    );
    for (const [patch, applied] of Object.entries(input.grpcPatches)) {
      patches.set({ ...gw, patch }, applied ? 1 : 0);
    }
  }
  if (input.readAheadMissed !== undefined) {
    r.counter(
      "bgproxy_gateway_read_ahead_missed_total",
      "Target sockets relayed with an unlimited read-ahead (Bun internals changed): read pacing no longer holds reads back",
      gwLabels,
    ).setTotal(gw, input.readAheadMissed);
  }
  r.counter(
    "bgproxy_gateway_sessions_total",
    "Sessions started since start, over all devices",
  ).setTotal(
    {},
    input.devices.reduce((a, d) => a + d.sessions_total, 0),
  );

  const labels = ["device", "device_ip"];
  const established = r.gauge(
    "bgproxy_gateway_device_established",
    "1 while the device's BGP session is Established",
    labels,
  );
  const sessions = r.gauge("bgproxy_gateway_device_sessions", "Sessions of the device now", [
    ...labels,
    ...gwLabels,
  ]);
  const updates = r.counter(
    "bgproxy_gateway_device_updates_total",
    "BGP UPDATE messages received from the device",
    labels,
  );
  const prefixes = r.gauge("bgproxy_gateway_device_prefixes", "Prefixes the device announces now", [
    ...labels,
    "afi",
  ]);
  if (input.devices.length <= MAX_GATEWAY_DEVICE_SERIES) {
    for (const d of input.devices) {
      const l = { device: d.name, device_ip: d.ip };
      established.set(l, d.state === "established" ? 1 : 0);
      sessions.set({ ...l, ...gw }, d.sessions);
      updates.setTotal(l, d.updates);
      prefixes.set({ ...l, afi: "ipv4" }, d.prefixes.ipv4);
      prefixes.set({ ...l, afi: "ipv6" }, d.prefixes.ipv6);
    }
  }

  const requests = r.counter(
    "bgproxy_gateway_export_requests_total",
    "OTLP export requests from agents, by signal and outcome",
    ["signal", "outcome"],
  );
  for (const [key, n] of [...input.exportRequests].sort()) {
    const [signal, outcome] = split(key);
    requests.setTotal({ signal, outcome }, n);
  }
  const items = r.counter(
    "bgproxy_gateway_export_items_total",
    "Log records and metric data points received from agents, accepted or rejected",
    ["signal", "outcome"],
  );
  for (const [key, n] of [...input.exportItems].sort()) {
    const [signal, outcome] = split(key);
    items.setTotal({ signal, outcome }, n);
  }
  r.gauge("bgproxy_gateway_agent_series", "Agent metric series held for /metrics").set(
    {},
    input.agentSeries,
  );
  addProcessMetrics(r, input.process);
  return r.collect();
}
