import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type { AgentConfig } from "../config/types.ts";
import { normalizeIp } from "../core/address.ts";
import { backgroundClock, type Clock, systemClock } from "../core/clock.ts";
import { AGENT_GC_PACER, type GcPacerOptions } from "../core/gc-pacer.ts";
import type { Logger } from "../core/logger.ts";
import { processBackgroundThreads } from "../core/process-background-threads.ts";
import { processGcPacer } from "../core/process-gc-pacer.ts";
import {
  DEFAULT_SESSION_LOG_LIMITS,
  SessionLogBudget,
  type SessionLogLimits,
} from "../core/session-log-budget.ts";
import type { FiveTuple } from "../proto/messages.ts";
import { type AgentIdentity, identityPairs } from "../proto/metadata.ts";
import { GRPC_PATCHES, warnMissingGrpcPatches } from "../proto/service.ts";
import { ReadGateWatch } from "../relay/http2-read-gate.ts";
import { ReadAheadWatch } from "../relay/read-ahead-watch.ts";
import { version } from "../version.ts";
import { AckLinks } from "./ack-links.ts";
import { Admission } from "./admission.ts";
import { type AgentOperationsOptions, createAgentOperations } from "./agent-operations.ts";
import { DEFAULT_BRIDGE_OPTIONS } from "./bridge/bridge-state.ts";
import { toMetadata } from "./call-metadata.ts";
import { ChannelPool } from "./channel-pool.ts";
import { ControlCache } from "./control-cache.ts";
import { ControlChannel } from "./control-channel.ts";
import { DenyList } from "./deny-list.ts";
import { GatewayDialer } from "./gateway-dialer.ts";
import { Md5Admission } from "./md5/md5-admission.ts";
import { Md5Support, md5DisabledStatus } from "./md5/md5-support.ts";
import { RouterListener } from "./router-listener.ts";
import { RouterSession } from "./router-session.ts";
import type { AgentStatus } from "./status/agent-snapshot.ts";

/**
 * `bgproxy agent`: router listeners, the Control stream, the Data connection pool and the
 * sessions between them.
 */
export interface RunningAgent {
  readonly instance: string;
  /** Listener addresses as bound (real ports when 0 was asked for). */
  readonly listening: readonly { host: string; port: number }[];
  status(): AgentStatus;
  /**
   * Move every session (or the one with `sessionId`) to a new Data stream by a graceful
   * RESTART the agent starts; returns how many were asked (POST /admin/restart).
   */
  restart(sessionId?: string): number;
  /** The status/metrics endpoint's port as bound. */
  readonly metricsPort: number;
  close(): Promise<void>;
}

export interface AgentDeps {
  clock?: Clock;
  /** Health, export and process-stats knobs of the operations surface (tests). */
  operations?: AgentOperationsOptions;
  /** How many sessions per interval log at their own levels (tests lower it). */
  sessionLog?: Partial<SessionLogLimits>;
  /** When to collect garbage (src/core/gc-pacer.ts); false leaves it to the engine. */
  gcPacer?: GcPacerOptions | false;
}

export async function startAgent(
  config: AgentConfig,
  rootLogger: Logger,
  deps: AgentDeps = {},
): Promise<RunningAgent> {
  const clock = deps.clock ?? systemClock;
  const instance = randomUUID();
  // Status, metrics, health and export; its logger also feeds the log export.
  // `service` is on every agent line, as on the reference's (there: service=ktbgp-agent).
  const ops = createAgentOperations(
    config,
    rootLogger.child({ service: "bgproxy-agent" }),
    { instance, version },
    clock,
    deps.operations,
  );
  const logger = ops.logger;
  const log = logger.child({ component: "agent" });
  // TCP-MD5 probes run before anything binds: a missing capability or kernel option ends the
  // start-up with one line.
  let md5: Md5Support | undefined;
  let dialer: GatewayDialer;
  try {
    md5 = config.md5.enabled
      ? Md5Support.probe(config.md5, logger.child({ component: "md5" }))
      : undefined;
    dialer = new GatewayDialer(config);
  } catch (err) {
    await ops.close();
    throw err;
  }
  const identity: AgentIdentity = {
    email: config.email,
    token: config.token,
    siteId: config.siteId,
    version,
    instance,
  };
  const now = () => clock.now();
  const denyList = new DenyList(now);
  const cache = new ControlCache(now);
  let admission: Admission | undefined;
  const control = new ControlChannel({
    newClient: () => dialer.client(),
    metadata: () => toMetadata(identityPairs(identity)),
    clock,
    logger: logger.child({ component: "proxy/control" }),
    heartbeat: config.heartbeat,
    onPush: (response) => admission?.onPush(response),
    onHeartbeat: (rttMs) => ops.telemetry.heartbeat(rttMs),
  });
  const admissionLogger = logger.child({ component: "proxy/client-data" });
  admission = md5
    ? new Md5Admission(control, cache, denyList, admissionLogger, md5)
    : new Admission(control, cache, denyList, admissionLogger);
  const pool = new ChannelPool(
    () => dialer.client(),
    config.multi,
    logger.child({ component: "proxy/pool" }),
  );
  const sessions = new Map<string, RouterSession>();
  const acks = new AckLinks(
    () => toMetadata(identityPairs(identity)),
    logger.child({ component: "proxy/acks" }),
  );
  let blockedAttempts = 0;
  let sessionsTotal = 0;
  const readGate = new ReadGateWatch(logger.child({ component: "agent/data" }));
  const readAhead = new ReadAheadWatch(logger.child({ component: "agent/data" }));
  const sessionLogger = logger.child({ component: "proxy/client-data" });
  const sessionLogs = new SessionLogBudget(sessionLogger, deps.clock ?? backgroundClock, {
    ...DEFAULT_SESSION_LOG_LIMITS,
    ...deps.sessionLog,
  });
  const gate = admission;

  const onConnection = (socket: Socket) => {
    const tuple: FiveTuple = {
      proto: "BGP",
      deviceIp: normalizeIp(socket.remoteAddress ?? ""),
      devicePort: socket.remotePort ?? 0,
      proxyIp: normalizeIp(socket.localAddress ?? ""),
      proxyPort: socket.localPort ?? 0,
    };
    if (gate.isDenied(tuple.deviceIp)) {
      blockedAttempts++;
      sessionLogger.debug("refused a deny-listed device", { device_ip: tuple.deviceIp });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    sessionsTotal++;
    const session = new RouterSession(socket, tuple, {
      admission: gate,
      pool,
      identity,
      clock,
      logger: sessionLogs.forSession(sessionLogger),
      readGate,
      readAhead,
      // With bridging off (0) the bridge still watches: a RESTART then tells the router why.
      bridge: { ...DEFAULT_BRIDGE_OPTIONS, giveUpMs: config.bridgeTimeoutMs },
      ...(config.resume ? { resume: config.resume } : {}),
      acks,
      onClosed: (s) => {
        sessions.delete(s.sessionId);
        ops.telemetry.sessionClosed(s.snapshot());
      },
    });
    sessions.set(session.sessionId, session);
    void session.run();
  };

  const listeners: RouterListener[] = [];
  try {
    for (const address of config.listen)
      listeners.push(await RouterListener.bind(address, onConnection));
    md5?.start({
      listeners,
      ask: (tuple) => control.request(tuple),
      onAnswer: (response) => gate.onPush(response),
      isDenied: (ip) => gate.isDenied(ip),
      clock,
    });
  } catch (err) {
    md5?.close();
    await Promise.all(listeners.map((l) => l.close()));
    pool.close();
    await ops.close();
    throw err;
  }
  control.start();
  // Relayed chunks leave dead buffers behind; at a slow far end's pace the engine lets them
  // pile up (DEVELOPERS.md, "Data path: the agent side").
  const stopGc =
    deps.gcPacer === false
      ? undefined
      : processGcPacer.start(deps.gcPacer ?? AGENT_GC_PACER, "agent");
  // The JIT compiler must not hold a CPU the relay's next hop is waiting for (DEVELOPERS.md,
  // "Data path: KEEPALIVE tail (session 5)"); `--disable-thread-lowering` leaves them alone.
  const stopBackground = config.lowerBackgroundThreads
    ? processBackgroundThreads.start(logger.child({ component: "agent" }))
    : undefined;
  log.info("agent started", {
    instance: identity.instance,
    listeners: listeners.map((l) => l.label),
    target: dialer.targetLabel,
    multi: config.multi,
    tls: !config.insecure,
    proxy: config.proxy ? `${config.proxy.host}:${config.proxy.port}` : undefined,
    ...(config.lowerBackgroundThreads ? {} : { thread_lowering: "off" }),
  });
  warnMissingGrpcPatches(log);

  const running: RunningAgent = {
    instance: identity.instance,
    get metricsPort() {
      return ops.port;
    },
    listening: listeners.map((l) => l.bound),
    status: () => ({
      instance: identity.instance,
      control: control.status(),
      listeners: listeners.map((l) => l.label),
      sessions: [...sessions.values()].map((s) => s.snapshot()),
      denyListSize: denyList.size,
      blockedAttempts,
      sessionsTotal,
      readGatesMissed: readGate.missed,
      readAheadMissed: readAhead.missed,
      grpcPatches: GRPC_PATCHES,
      pool: pool.stats,
      md5: md5 ? md5.status() : md5DisabledStatus(config.md5),
    }),
    restart(sessionId) {
      let n = 0;
      for (const s of sessions.values()) {
        if (sessionId !== undefined && s.sessionId !== sessionId) continue;
        if (s.restart()) n++;
      }
      if (n > 0) log.info("RESTART sent: sessions move to new Data streams", { sessions: n });
      return n;
    },
    async close() {
      stopGc?.();
      stopBackground?.();
      // A listener closes once its connections are gone: abort the sessions meanwhile.
      const closing = listeners.map((l) => l.close());
      for (const s of [...sessions.values()]) s.abort("agent shutting down");
      control.close();
      pool.close();
      md5?.close();
      await Promise.all(closing);
      sessionLogs.flush();
      log.info("agent stopped");
      await ops.close();
    },
  };
  try {
    ops.start(() => running.status(), { restart: (id) => running.restart(id) });
  } catch (err) {
    await running.close();
    throw err;
  }
  return running;
}
