import { rfc3339Nano } from "../core/timestamp.ts";
import { gatewayMetricFamilies } from "../metrics/gateway-metrics.ts";
import type { ProcessStats } from "../metrics/process-stats.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheusText } from "../metrics/prometheus-text.ts";
import { mergeFamilies } from "../metrics/registry.ts";
import type { GrpcPatch } from "../proto/service.ts";
import type { AgentDirectory } from "./agent-directory.ts";
import type { AgentMetricsStore } from "./agent-metrics-store.ts";
import { type AgentView, renderAgents } from "./agent-view.ts";
import type { DeviceRegistry } from "./device-registry.ts";
import { type DeviceView, renderDevices } from "./device-view.ts";
import type { Route } from "./http-api.ts";
import type { OtlpReceiver } from "./otlp-receiver.ts";
import { renderStatusPage } from "./status-page.ts";

/**
 * The gateway's GET endpoints: `/` (HTML status page), `/api/devices`, `/api/agents`,
 * `/metrics` (its own metrics plus every agent's exported ones, labelled `instance`) and
 * `/hc`. Each takes the live pieces' current values and renders them with a pure function.
 */
export interface GatewayStatusSources {
  readonly version: string;
  /** The gateway's name (`--name`), shown with its devices and metrics. */
  readonly gateway?: string;
  /** Data streams by backend-pin outcome ("self", "other", "none"). */
  readonly streamsByPin?: ReadonlyMap<string, number>;
  /** Data calls left without an HTTP/2 read gate (src/relay/http2-read-gate.ts). */
  readonly readGatesMissed?: () => number;
  /** Target sockets relayed with an unlimited read-ahead (src/relay/read-ahead-watch.ts). */
  readonly readAheadMissed?: () => number;
  /** Which of the grpc-js patches took (src/proto/service.ts, GRPC_PATCHES). */
  readonly grpcPatches?: Readonly<Record<GrpcPatch, boolean>>;
  readonly registry: DeviceRegistry;
  readonly agents: AgentDirectory;
  readonly agentMetrics: AgentMetricsStore;
  readonly receiver: OtlpReceiver;
  readonly now: () => number;
  readonly processStats: () => ProcessStats;
}

export function gatewayStatusRoutes(src: GatewayStatusSources): Record<string, Route> {
  const devices = (): DeviceView[] => renderDevices(src.registry.all(), src.gateway);
  const agents = (): AgentView[] =>
    renderAgents({
      entries: src.agents.all(),
      sessionsOf: (instance) => src.agents.sessionsOf(instance),
      lastMetrics: src.agentMetrics.lastPushes(),
      lastLogs: src.receiver.lastLogs,
      now: src.now(),
    });
  return {
    "/": () =>
      new Response(
        renderStatusPage({
          version: src.version,
          now: src.now(),
          devices: devices(),
          agents: agents(),
        }),
        { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } },
      ),
    "/api/devices": devices,
    "/api/agents": agents,
    "/metrics": () => {
      const receiver = src.receiver.stats();
      const own = gatewayMetricFamilies({
        version: src.version,
        ...(src.gateway === undefined ? {} : { gateway: src.gateway }),
        ...(src.streamsByPin === undefined ? {} : { streamsByPin: src.streamsByPin }),
        ...(src.readGatesMissed === undefined ? {} : { readGatesMissed: src.readGatesMissed() }),
        ...(src.readAheadMissed === undefined ? {} : { readAheadMissed: src.readAheadMissed() }),
        ...(src.grpcPatches === undefined ? {} : { grpcPatches: src.grpcPatches }),
        devices: devices(),
        agentsConnected: src.agents.all().length,
        exportRequests: receiver.requests,
        exportItems: receiver.items,
        agentSeries: src.agentMetrics.seriesCount,
        process: src.processStats(),
      });
      return new Response(renderPrometheusText(mergeFamilies(own, src.agentMetrics.families())), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
      });
    },
    "/hc": () => ({ timestamp: rfc3339Nano(src.now()), status: "ok" }),
  };
}
