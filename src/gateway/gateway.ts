import * as grpc from "@grpc/grpc-js";
import { BmpFeed } from "../bmp/bmp-feed.ts";
import { MrtDumper } from "../collector/mrt-dumper.ts";
import { RibDirectory } from "../collector/rib-directory.ts";
import type { GatewayConfig } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import { backgroundClock, type Clock, systemClock } from "../core/clock.ts";
import { GATEWAY_GC_PACER, type GcPacerOptions } from "../core/gc-pacer.ts";
import { jsonResponse } from "../core/http-server.ts";
import type { Logger } from "../core/logger.ts";
import { processBackgroundThreads } from "../core/process-background-threads.ts";
import { processGcPacer } from "../core/process-gc-pacer.ts";
import {
  DEFAULT_SESSION_LOG_LIMITS,
  SessionLogBudget,
  type SessionLogLimits,
} from "../core/session-log-budget.ts";
import { readProcessStats } from "../metrics/process-stats.ts";
import { resumeServiceDefinition } from "../proto/resume-service.ts";
import { GRPC_PATCHES, proxyServiceDefinition, warnMissingGrpcPatches } from "../proto/service.ts";
import { ReadGateWatch } from "../relay/http2-read-gate.ts";
import { ReadAheadWatch } from "../relay/read-ahead-watch.ts";
import { version } from "../version.ts";
import { ackService } from "./ack-service.ts";
import { AgentDirectory } from "./agent-directory.ts";
import {
  type AgentMetricsLimits,
  AgentMetricsStore,
  DEFAULT_AGENT_METRICS_LIMITS,
} from "./agent-metrics-store.ts";
import {
  AGENT_SERVER_SHUTDOWN_MS,
  gatewayServerOptions,
  listenForAgents,
  shutDownAgentServer,
} from "./agent-server.ts";
import { controlService } from "./control-service.ts";
import { dataService } from "./data-service.ts";
import { DeviceRegistry } from "./device-registry.ts";
import { DeviceResolver } from "./device-resolver.ts";
import { DeviceTracker } from "./device-tracker.ts";
import { startExportListener } from "./export-listener.ts";
import { raiseFlowControlWindows } from "./flow-control.ts";
import { type GatewayReload, reloadGateway } from "./gateway-reload.ts";
import { gatewayStatusRoutes } from "./gateway-status.ts";
import {
  DEFAULT_HANDSHAKE_LIMITS,
  guardHandshakes,
  type HandshakeGuard,
  type HandshakeLimits,
} from "./handshake-guard.ts";
import { HeldSessions } from "./held-sessions.ts";
import { type HttpApi, startHttpApi } from "./http-api.ts";
import { DEFAULT_LOGIN_LIMITS, LoginGuard, type LoginLimits } from "./login-guard.ts";
import { OtlpReceiver } from "./otlp-receiver.ts";
import { logOversizedMessages } from "./oversize-log.ts";
import { routeApi } from "./route-api.ts";
import { sessionDrain } from "./session-drain.ts";
import { SessionTable } from "./session-table.ts";
import { monitoredSession, SessionTargets } from "./session-targets.ts";

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
  /** The built-in collector's Adj-RIB-In per device. */
  readonly ribs: RibDirectory;
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
  /**
   * A graceful RESTART on every live Data stream without draining: far ends are held and
   * re-attached when the sessions' next streams reach this gateway. Returns how many.
   */
  restartStreams(): number;
  /**
   * Stop. Drains first (every session's agent is sent RESTART and reaches the next gateway)
   * unless `drain` is false: then the collector's routers hear Cease / Administrative
   * Shutdown through their still relaying agents (the embedded gateway of standalone mode,
   * which has no next gateway).
   */
  close(options?: { drain?: boolean }): Promise<void>;
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
  /** Handshake timeout and cap on pending handshakes (tests shorten them). */
  handshake?: Partial<HandshakeLimits>;
  /** Runs the handshake guard's sweeps (tests drive it); the log summaries' clock when absent. */
  handshakeClock?: Clock;
  /** Failed-login throttling (tests shorten the block). */
  login?: Partial<LoginLimits>;
  /** How many sessions per interval log at their own levels (tests lower it). */
  sessionLog?: Partial<SessionLogLimits>;
  /** When to collect garbage (src/core/gc-pacer.ts); false leaves it to the engine. */
  gcPacer?: GcPacerOptions | false;
}

/** The shutdown communication (RFC 8203) a router gets when the gateway stops. */
export const SHUTDOWN_MESSAGE = "bgproxy gateway shutting down";

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
  const ribs = new RibDirectory();
  const bmp =
    config.bmp && config.bmp.length > 0
      ? new BmpFeed({
          stations: config.bmp,
          sysName: `bgproxy gateway ${config.collector.routerId}`,
          sysDescr: `bgproxy ${version}`,
          clock,
          logger: logger.child({ component: "gateway/bmp" }),
        })
      : undefined;
  const targets = new SessionTargets({
    ribs,
    ...(bmp ? { bmp } : {}),
    collector: () => running.collector,
    clock,
  });

  // Timers of log summaries and throttles: they never keep the process alive.
  const logClock: Clock = deps.clock ?? { now, schedule: backgroundClock.schedule };
  // Made once the server is bound; told of good logins by the LoginGuard.
  let guard: HandshakeGuard | undefined;
  const logins = new LoginGuard(
    accounts,
    logger.child({ component: "gateway/auth" }),
    logClock,
    { ...DEFAULT_LOGIN_LIMITS, ...deps.login },
    (peer) => guard?.loggedIn(peer),
  );
  const sessionLogs = new SessionLogBudget(logger.child({ component: "gateway/data" }), logClock, {
    ...DEFAULT_SESSION_LOG_LIMITS,
    ...deps.sessionLog,
  });
  const streamsByPin = new Map<string, number>();
  const readGate = new ReadGateWatch(logger.child({ component: "gateway/data" }));
  const readAhead = new ReadAheadWatch(logger.child({ component: "gateway/data" }));
  const server = new grpc.Server(gatewayServerOptions());
  /** Agents' Control streams (they last as long as the agent): ended on stop. */
  const controlCalls = new Set<{ end(): void }>();
  // Sessions held for their next Data stream (resume, graceful RESTART); none with grace 0.
  const held = config.resume ? new HeldSessions(clock, config.resume.windowMs) : undefined;
  server.addService(proxyServiceDefinition, {
    control: controlService({
      calls: controlCalls,
      resolver,
      agents,
      logger,
      accounts,
      ...(config.name === undefined ? {} : { name: config.name }),
      logins,
      clock: logClock,
    }),
    data: dataService({
      accounts,
      resolver,
      openTarget: targets.open,
      tracker,
      ...(bmp
        ? { monitor: (device, session) => bmp.session(monitoredSession(device, session)) }
        : {}),
      logger,
      agents,
      ...(config.name === undefined ? {} : { name: config.name }),
      pinned: (outcome) => streamsByPin.set(outcome, (streamsByPin.get(outcome) ?? 0) + 1),
      readGate,
      readAhead,
      clock,
      logins,
      sessionLogs,
      sessions,
      ...(held && config.resume ? { resume: { held, limitBytes: config.resume.limitBytes } } : {}),
    }),
  });
  server.addService(resumeServiceDefinition, {
    acks: ackService({ ...(held ? { held } : {}), logins, logger }),
  });
  const port = await listenForAgents(server, config);

  raiseFlowControlWindows(server, log);
  logOversizedMessages(server, log, logClock);
  guard = guardHandshakes(
    server,
    log,
    { ...DEFAULT_HANDSHAKE_LIMITS, ...deps.handshake },
    deps.handshakeClock ?? logClock,
  );
  let http: HttpApi;
  let exports: HttpApi | undefined;
  const routes = gatewayStatusRoutes({
    version,
    ...(config.name === undefined ? {} : { gateway: config.name }),
    streamsByPin,
    readGatesMissed: () => readGate.missed,
    readAheadMissed: () => readAhead.missed,
    grpcPatches: GRPC_PATCHES,
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
  const drainer = sessionDrain(sessions, log, {
    now,
    schedule: (ms, fn) => clock.schedule(ms, fn),
  });
  const { drain, restartStreams } = drainer;
  const adminRoutes = {
    ...drainer.routes,
    "/admin/reload": async () => {
      const outcome = reload();
      return jsonResponse(outcome, false, outcome.kind === "applied" ? 200 : 422);
    },
  };
  const routesApi = routeApi({ ribs, collectorId: config.collector.routerId, version, now });
  try {
    http = startHttpApi(
      config.httpListen,
      { ...routes, ...routesApi.routes },
      { post: { ...receiver.routes(), ...adminRoutes }, match: routesApi.match },
    );
    try {
      exports = startExportListener(config, receiver, routes["/hc"] ?? (() => ({})));
    } catch (err) {
      http.close();
      throw err;
    }
  } catch (err) {
    guard?.stop();
    server.forceShutdown();
    throw err;
  }
  const dumper = config.mrt
    ? new MrtDumper(
        config.mrt,
        ribs,
        config.collector.routerId,
        clock,
        logger.child({ component: "gateway/mrt" }),
      )
    : undefined;
  try {
    dumper?.start();
    bmp?.start();
  } catch (err) {
    http.close();
    exports?.close();
    server.forceShutdown();
    throw err;
  }
  const stopGc =
    deps.gcPacer === false
      ? undefined
      : processGcPacer.start(deps.gcPacer ?? GATEWAY_GC_PACER, "gateway");
  // The JIT compiler must not hold a CPU the relay's next hop is waiting for (DEVELOPERS.md,
  // "Data path: KEEPALIVE tail (session 5)"); `--disable-thread-lowering` leaves them alone.
  const stopBackground = config.lowerBackgroundThreads
    ? processBackgroundThreads.start(log)
    : undefined;
  log.info("gateway started", {
    ...(config.name === undefined ? {} : { name: config.name }),
    listen: hostPort(config.listen.host, port),
    http: hostPort(config.httpListen.host, http.port),
    exports:
      exports && config.exportListen ? hostPort(config.exportListen.host, exports.port) : "off",
    tls: !config.insecure,
    devices: registry.all().length,
    accept_any: config.acceptAny,
    ...(config.lowerBackgroundThreads ? {} : { thread_lowering: "off" }),
  });
  warnMissingGrpcPatches(log);

  return {
    port,
    httpPort: http.port,
    ...(exports ? { exportPort: exports.port } : {}),
    registry,
    agents,
    agentMetrics,
    ribs,
    sessions,
    reload,
    drain,
    restartStreams,
    async close(options) {
      // Sessions get a graceful RESTART first: their agents keep the routers' sessions up
      // (bridging) and reach the next gateway.
      const live = options?.drain === false ? 0 : drain();
      if (live > 0) await drainer.ended(config.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      stopGc?.();
      stopBackground?.();
      dumper?.stop();
      bmp?.stop();
      http.close();
      exports?.close();
      guard?.stop();
      // Routers in the collector hear why (Cease / Administrative Shutdown) before the
      // streams close; the relay carries the NOTIFICATION and the end of each stream.
      await targets.shutDownCollectors(SHUTDOWN_MESSAGE, log);
      logins.flush();
      sessionLogs.flush();
      // Agents' Control streams are ended (they reconnect elsewhere or to the next
      // gateway): otherwise the graceful shutdown waits for them until it is forced.
      // (Acknowledgement streams end with their agents' last drained session.)
      for (const call of controlCalls) call.end();
      const forced = await shutDownAgentServer(server, clock);
      log.info("gateway stopped", forced ? { forced_after_ms: AGENT_SERVER_SHUTDOWN_MS } : {});
    },
  };
}
