import { hostname } from "node:os";
import type { AgentConfig } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { teeLogger } from "../core/log-tee.ts";
import type { Logger } from "../core/logger.ts";
import type { ExportStats } from "../export/export-stats.ts";
import { LogExporter } from "../export/log-export.ts";
import { MetricsExporter } from "../export/metrics-export.ts";
import type { OtlpResource } from "../export/otlp-attributes.ts";
import { fetchPost, type HttpPost, OtlpSender, safeUrl } from "../export/otlp-sender.ts";
import { type ProcessStats, readProcessStats } from "../metrics/process-stats.ts";
import { exportHeaders } from "../proto/metadata.ts";
import { trustedRoots } from "./gateway-dialer.ts";
import { agentChecks } from "./status/agent-checks.ts";
import { DEFAULT_HEALTH_LIMITS, type HealthLimits, HealthMonitor } from "./status/agent-health.ts";
import { agentMetricFamilies } from "./status/agent-metrics.ts";
import type { AgentConfigView, AgentSnapshot, AgentStatus } from "./status/agent-snapshot.ts";
import { AgentTelemetry } from "./status/agent-telemetry.ts";
import { type StatusActions, type StatusServer, startStatusServer } from "./status-server.ts";

/**
 * The agent's operations surface, composed in one place: the health monitor, the event
 * folds (closed-session totals, heartbeat RTTs), the status/metrics server, and the log
 * and metrics exporters with the logger that feeds them. The agent hands it a function
 * returning its status; everything the endpoints show is derived from that and the events.
 */
export interface AgentOperationsOptions {
  readonly health?: Partial<HealthLimits>;
  /** Metrics export period; default 15 s. */
  readonly metricsExportIntervalMs?: number;
  readonly metricsExportFirstDelayMs?: number;
  readonly logFlushMs?: number;
  /** The HTTP client of the exporters (tests pass a recorder). */
  readonly post?: HttpPost;
  readonly processStats?: () => ProcessStats;
}

export interface AgentIdentityView {
  readonly instance: string;
  readonly version: string;
}

export interface AgentOperations {
  /** The logger the agent should use: it also feeds the log exporter (when exporting). */
  readonly logger: Logger;
  readonly telemetry: AgentTelemetry;
  /** The status server's port (after start). */
  readonly port: number;
  /** Bind the status server, start the health checks and the exports. */
  start(status: () => AgentStatus, actions?: StatusActions): void;
  snapshot(): AgentSnapshot;
  close(): Promise<void>;
}

function proxyUrl(config: AgentConfig): string | false {
  const p = config.proxy;
  if (!p) return false;
  const creds = p.credentials;
  let auth = "";
  if (creds !== undefined) {
    const colon = creds.indexOf(":");
    const user = colon < 0 ? creds : creds.slice(0, colon);
    const pass = colon < 0 ? "" : creds.slice(colon + 1);
    auth = `${encodeURIComponent(user)}${colon < 0 ? "" : `:${encodeURIComponent(pass)}`}@`;
  }
  return `http://${auth}${hostPort(p.host, p.port)}`;
}

function exportPost(config: AgentConfig, url: string): HttpPost {
  let host = "";
  let https = false;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    https = u.protocol === "https:";
  } catch {
    // parseHttpUrl validated it; keep defaults
  }
  const serverName =
    https && config.tlsServerName && host === config.target.host ? config.tlsServerName : undefined;
  return fetchPost({
    ...(https && config.caFile ? { ca: trustedRoots(config).toString("utf8") } : {}),
    ...(serverName ? { serverName } : {}),
    proxy: proxyUrl(config),
  });
}

export function configView(config: AgentConfig, version: string): AgentConfigView {
  return {
    listenersConfigured: config.listen.length,
    md5Enabled: config.md5.enabled,
    md5Interface: config.md5.interface,
    proxyTarget: hostPort(config.target.host, config.target.port),
    apiEmail: config.email,
    siteId: config.siteId,
    version,
  };
}

export function createAgentOperations(
  config: AgentConfig,
  baseLogger: Logger,
  identity: AgentIdentityView,
  clock: Clock,
  options: AgentOperationsOptions = {},
): AgentOperations {
  const startMs = clock.now();
  const telemetry = new AgentTelemetry();
  const view = configView(config, identity.version);
  const opsLog = baseLogger.child({ component: "operations" });
  const limits: HealthLimits = { ...DEFAULT_HEALTH_LIMITS, ...options.health };
  const processStats = options.processStats ?? readProcessStats;
  const resource: OtlpResource = {
    serviceName: "bgproxy-agent",
    serviceVersion: identity.version,
    instance: identity.instance,
    extra: { "host.name": hostname(), "bgproxy.site_id": config.siteId },
  };
  const headers = exportHeaders({
    email: config.email,
    token: config.token,
    siteId: config.siteId,
    instance: identity.instance,
    version: identity.version,
  });
  const sender = (url: string, what: string) =>
    new OtlpSender({
      url,
      headers,
      post: options.post ?? exportPost(config, url),
      logger: opsLog,
      what,
      now: () => clock.now(),
    });

  const logExporter = config.export.logsDisabled
    ? undefined
    : new LogExporter({
        sender: sender(config.export.logUrl, "log export"),
        resource,
        clock,
        ...(options.logFlushMs === undefined ? {} : { flushMs: options.logFlushMs }),
      });
  const logger = logExporter
    ? teeLogger(
        baseLogger,
        (e) => logExporter.push(e),
        config.log.level,
        () => clock.now(),
      )
    : baseLogger;

  let statusOf: (() => AgentStatus) | undefined;
  let server: StatusServer | undefined;
  let health: HealthMonitor | undefined;
  let metricsExporter: MetricsExporter | undefined;

  const exportStats = (): ExportStats[] => {
    const out: ExportStats[] = [];
    if (logExporter) out.push(logExporter.stats());
    if (metricsExporter) out.push(metricsExporter.stats());
    return out;
  };

  const snapshot = (): AgentSnapshot => {
    if (!statusOf || !health) throw new Error("agent operations not started");
    const now = clock.now();
    return {
      now,
      status: statusOf(),
      config: view,
      health: health.report(now),
      closedTotals: telemetry.closedTotals,
      reattachedClosed: telemetry.reattachedTotal,
      ...(config.bridgeTimeoutMs > 0 ? { bridgeTotals: telemetry.bridgeTotals } : {}),
      heartbeatRtt: telemetry.heartbeatRtt,
      exports: exportStats(),
      process: processStats(),
    };
  };

  return {
    logger,
    telemetry,
    get port() {
      return server?.port ?? 0;
    },
    start(status, actions) {
      statusOf = status;
      const monitor = new HealthMonitor(
        (now) => {
          const s = status();
          return agentChecks(
            {
              control: s.control,
              listenersBound: s.listeners.length,
              listenersConfigured: view.listenersConfigured,
              heartbeat: config.heartbeat,
            },
            now,
          );
        },
        clock,
        baseLogger.child({ component: "health" }),
        limits,
      );
      health = monitor;
      server = startStatusServer(config.metrics, snapshot, actions);
      monitor.start();
      if (!config.export.metricsDisabled) {
        metricsExporter = new MetricsExporter({
          sender: sender(config.export.metricsUrl, "metrics export"),
          resource,
          clock,
          collect: () => agentMetricFamilies(snapshot()),
          startMs,
          ...(options.metricsExportIntervalMs === undefined
            ? {}
            : { intervalMs: options.metricsExportIntervalMs }),
          ...(options.metricsExportFirstDelayMs === undefined
            ? {}
            : { firstDelayMs: options.metricsExportFirstDelayMs }),
        });
        metricsExporter.start();
      }
      opsLog.info("status and metrics endpoint listening", {
        address: hostPort(config.metrics.addr, server.port),
        log_export: config.export.logsDisabled ? "disabled" : safeUrl(config.export.logUrl),
        metrics_export: config.export.metricsDisabled
          ? "disabled"
          : safeUrl(config.export.metricsUrl),
      });
    },
    snapshot,
    async close() {
      health?.stop();
      metricsExporter?.stop();
      server?.close();
      await logExporter?.close();
    },
  };
}
