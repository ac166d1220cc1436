import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { GatewayConfig } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { BgpProxyError } from "../core/errors.ts";
import { jsonResponse } from "../core/http-server.ts";
import type { Logger } from "../core/logger.ts";
import { readProcessStats } from "../metrics/process-stats.ts";
import { proxyServiceDefinition } from "../proto/service.ts";
import { version } from "../version.ts";
import { AgentDirectory } from "./agent-directory.ts";
import {
  type AgentMetricsLimits,
  AgentMetricsStore,
  DEFAULT_AGENT_METRICS_LIMITS,
} from "./agent-metrics-store.ts";
import { openCollector } from "./collector-endpoint.ts";
import { controlService } from "./control-service.ts";
import { dataService, type OpenTarget } from "./data-service.ts";
import { DeviceRegistry } from "./device-registry.ts";
import { DeviceResolver } from "./device-resolver.ts";
import { DeviceTracker } from "./device-tracker.ts";
import { startExportListener } from "./export-listener.ts";
import { raiseFlowControlWindows } from "./flow-control.ts";
import { connectForward } from "./forward-target.ts";
import { type GatewayReload, reloadGateway } from "./gateway-reload.ts";
import { gatewayStatusRoutes } from "./gateway-status.ts";
import { type HttpApi, startHttpApi } from "./http-api.ts";
import { OtlpReceiver } from "./otlp-receiver.ts";
import { SessionTable } from "./session-table.ts";

/**
 * `bgproxy gateway`: serves ProxyService to agents, knows the devices, and terminates
 * each session in the built-in collector or by forwarding it to a BGP daemon.
 */
export interface RunningGateway {
  /** The gRPC port as bound (the real one when 0 was asked for). */
  readonly port: number;
  readonly httpPort: number;
  /** The agents' export listener's port, when there is one. */
  readonly exportPort?: number;
  readonly registry: DeviceRegistry;
  readonly agents: AgentDirectory;
  readonly agentMetrics: AgentMetricsStore;
  readonly sessions: SessionTable;
  /**
   * Re-reads the configuration (GatewayDeps.readConfig) and applies what changed; a bad
   * file is refused with one log line and the running configuration stays.
   */
  reload(): GatewayReload;
  /**
   * Starts a drain: new Data streams are refused, every live one gets a graceful RESTART.
   * Returns how many sessions were asked to restart. close() drains first.
   */
  drain(): number;
  close(): Promise<void>;
}

/** How long close() waits for drained sessions to end. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export interface GatewayDeps {
  /** Timers of the built-in collector and the time of device state changes. */
  clock?: Clock;
  now?: () => number;
  /** Retention of the metrics agents export (tests shorten the expiry). */
  agentMetrics?: Partial<AgentMetricsLimits>;
  /** Reads the configuration again, for a reload (SIGHUP, POST /admin/reload). */
  readConfig?: () => GatewayConfig;
}

function serverCredentials(config: GatewayConfig): grpc.ServerCredentials {
  if (config.insecure) return grpc.ServerCredentials.createInsecure();
  if (!config.tlsCert || !config.tlsKey) {
    throw new BgpProxyError("config", "TLS needs --tls-cert and --tls-key (or --insecure)", {
      retryable: false,
    });
  }
  return grpc.ServerCredentials.createSsl(
    null,
    [{ cert_chain: readFileSync(config.tlsCert), private_key: readFileSync(config.tlsKey) }],
    false,
  );
}

export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  deps: GatewayDeps = {},
): Promise<RunningGateway> {
  const clock = deps.clock ?? systemClock;
  const now = deps.now ?? (() => clock.now());
  const log = logger.child({ component: "gateway" });
  const registry = new DeviceRegistry(config.devices, clock.now());
  const tracker = new DeviceTracker(clock);
  const resolver = new DeviceResolver(registry, config.acceptAny, now);
  const sessions = new SessionTable();
  // What a reload may change in place: the accounts (this array), the collector's settings.
  const accounts = [...config.accounts];
  let running = config;
  const agents = new AgentDirectory(now);
  const agentMetrics = new AgentMetricsStore(
    { ...DEFAULT_AGENT_METRICS_LIMITS, ...deps.agentMetrics },
    now,
  );
  const receiver = new OtlpReceiver({
    accounts,
    logger,
    store: agentMetrics,
    now,
  });
  const openTarget: OpenTarget = (device, _session, events, sessionLog) => {
    const target = device.config.target;
    if (target.kind === "forward") return connectForward(target.forward, target.source);
    return Promise.resolve(openCollector(events, running.collector, clock, sessionLog));
  };

  const server = new grpc.Server({
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_concurrent_streams": 1000,
  });
  server.addService(proxyServiceDefinition, {
    control: controlService({ resolver, agents, logger, accounts }),
    data: dataService({ accounts, resolver, openTarget, tracker, logger, agents, sessions }),
  });
  const where = hostPort(config.listen.host, config.listen.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(where, serverCredentials(config), (err, bound) => {
      if (err) {
        reject(
          new BgpProxyError("config", `cannot listen for agents on ${where}: ${err.message}`, {
            retryable: false,
            cause: err,
          }),
        );
      } else resolve(bound);
    });
  });

  raiseFlowControlWindows(server, log);
  let http: HttpApi;
  let exports: HttpApi | undefined;
  const routes = gatewayStatusRoutes({
    version,
    registry,
    agents,
    agentMetrics,
    receiver,
    now,
    processStats: readProcessStats,
  });
  const reload = (): GatewayReload =>
    reloadGateway(running, deps.readConfig, { registry, sessions, accounts, now }, log, (next) => {
      running = next;
    });
  const drain = (): number => {
    const already = sessions.draining;
    const n = sessions.drain(now());
    if (!already) log.info("draining: RESTART sent on every Data stream", { sessions: n });
    return n;
  };
  /** Resolves when every session has ended, or after `ms`. */
  const drained = async (ms: number) => {
    const until = now() + ms;
    while (sessions.size > 0 && now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (sessions.size > 0) log.warn("drain timed out", { sessions: sessions.size });
  };
  const adminRoutes = {
    "/admin/drain": async () => jsonResponse({ kind: "draining", sessions: drain() }, false),
    "/admin/reload": async () => {
      const outcome = reload();
      return jsonResponse(outcome, false, outcome.kind === "applied" ? 200 : 422);
    },
  };
  try {
    http = startHttpApi(config.httpListen, routes, {
      post: { ...receiver.routes(), ...adminRoutes },
    });
    try {
      exports = startExportListener(config, receiver, routes["/hc"] ?? (() => ({})));
    } catch (err) {
      http.close();
      throw err;
    }
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  log.info("gateway started", {
    listen: hostPort(config.listen.host, port),
    http: hostPort(config.httpListen.host, http.port),
    exports:
      exports && config.exportListen ? hostPort(config.exportListen.host, exports.port) : "off",
    tls: !config.insecure,
    devices: registry.all().length,
    accept_any: config.acceptAny,
  });

  return {
    port,
    httpPort: http.port,
    ...(exports ? { exportPort: exports.port } : {}),
    registry,
    agents,
    agentMetrics,
    sessions,
    reload,
    drain,
    async close() {
      // Sessions get a graceful RESTART first: their agents keep the routers' sessions up
      // (bridging) and reach the next gateway.
      const live = drain();
      if (live > 0) await drained(config.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      http.close();
      exports?.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      log.info("gateway stopped");
    },
  };
}
