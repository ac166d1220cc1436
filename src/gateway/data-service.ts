import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import type { SpeakerMonitor } from "../collector/speaker-options.ts";
import type { AccountConfig } from "../config/types.ts";
import { backgroundClock, type Clock, systemClock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionLogBudget } from "../core/session-log-budget.ts";
import { DataAction, type DataMessage } from "../proto/messages.ts";
import {
  metadataReader,
  ResumeHeader,
  readBackendPin,
  readDataCallHeaders,
} from "../proto/metadata.ts";
import { gateCallReads, ReadGateWatch } from "../relay/http2-read-gate.ts";
import type { ReadAheadWatch } from "../relay/read-ahead-watch.ts";
import { type AgentCallInfo, admitAgentCall } from "./agent-call.ts";
import type { AgentDirectory } from "./agent-directory.ts";
import type { DeviceRuntime } from "./device-registry.ts";
import type { DeviceResolver } from "./device-resolver.ts";
import type { DeviceTracker, SessionEvents } from "./device-tracker.ts";
import type { HeldSessions } from "./held-sessions.ts";
import { LoginGuard } from "./login-guard.ts";
import { RelayedSession } from "./relayed-session.ts";
import { countersMetadata, reattachHeld, startsOver } from "./session-reattach.ts";
import type { SessionTable } from "./session-table.ts";

/**
 * The gateway's side of a Data stream: authenticate, find the device, open its target
 * (the built-in collector or a TCP connection to a BGP daemon) and relay bytes both ways.
 */
export interface SessionInfo {
  sessionId: string;
  deviceIp: string;
  devicePort: number;
  proxyIp: string;
  proxyPort: number;
  agentInstance: string;
}

/** Opens the far end of a session for a device; a target that parses BGP reports to `events`. */
export type OpenTarget = (
  device: DeviceRuntime,
  session: SessionInfo,
  events: SessionEvents,
  logger: Logger,
) => Promise<Duplex>;

export interface DataServiceDeps {
  accounts: readonly AccountConfig[];
  resolver: DeviceResolver;
  openTarget: OpenTarget;
  /** Folds every session's events into its device's state. */
  tracker: DeviceTracker;
  logger: Logger;
  highWaterMark?: number;
  /** Told when an agent's Data stream starts and stops relaying (for /api/agents). */
  agents?: Pick<AgentDirectory, "sessionOpened" | "sessionClosed">;
  /** Live sessions by device: the duplicate-device rule, and ending sessions on reload. */
  sessions?: SessionTable;
  /** Shared by the gateway's services; made here when absent (tests). */
  logins?: LoginGuard;
  /** Counts (and warns once about) Data calls left without an HTTP/2 read gate. */
  readGate?: ReadGateWatch;
  /** Counts (and warns once about) target sockets whose read-ahead could not be limited. */
  readAhead?: ReadAheadWatch;
  /** Runs the read gates' timers; the system clock when absent. */
  clock?: Clock;
  /** Keeps a flood of sessions from burying the journal; none: every session logs. */
  sessionLogs?: SessionLogBudget;
  /** The BMP feed's monitor for a forwarded session, when BMP is on. */
  monitor?: (device: DeviceRuntime, session: SessionInfo) => SpeakerMonitor | undefined;
  /** This gateway's name: a stream's `backend-pin` is compared with it. */
  name?: string;
  /** Told, per accepted stream, whether its backend-pin named this gateway. */
  pinned?: (outcome: PinOutcome) => void;
  /** Resume after a lost Data stream, for agents that offer it; undefined = off. */
  resume?: { held: HeldSessions; limitBytes: number };
}

/** A Data stream's `backend-pin` against the gateway's name. */
export type PinOutcome = "self" | "other" | "none";

export function pinOutcome(pin: string | undefined, name: string | undefined): PinOutcome {
  if (pin === undefined || pin === "") return "none";
  return pin === name ? "self" : "other";
}

export type DataCall = grpc.ServerDuplexStream<DataMessage, DataMessage>;

/** A Data stream whose agent logged in, for a device this gateway knows. */
export interface AdmittedStream {
  readonly call: DataCall;
  readonly agent: AgentCallInfo;
  readonly session: SessionInfo;
  readonly device: DeviceRuntime;
  /** The agent's message counters: not both 0 when it re-opens a session. */
  readonly up: number;
  readonly down: number;
  /** The agent offers to resume the session after a lost stream. */
  readonly offered: boolean;
  /** The session's logger (device address and session id). */
  readonly log: Logger;
}

/**
 * The stream's agent logged in, its headers name a session and a device this gateway knows;
 * undefined when not (the call was answered).
 */
function admitStream(
  call: DataCall,
  deps: DataServiceDeps,
  logins: LoginGuard,
): AdmittedStream | undefined {
  const data = deps.logger.child({ component: "gateway/data" });
  const base = deps.sessionLogs ? deps.sessionLogs.forSession(data) : data;
  const agent = admitAgentCall(call, logins);
  if (!agent) return undefined;
  const headers = readDataCallHeaders(metadataReader(call.metadata));
  const session: SessionInfo = {
    sessionId: headers.sessionId,
    deviceIp: headers.deviceIp,
    devicePort: headers.devicePort,
    proxyIp: headers.proxyIp,
    proxyPort: headers.proxyPort,
    agentInstance: agent.instance,
  };
  const log = base.child({ device_ip: session.deviceIp, "session-id": session.sessionId });
  if (!session.sessionId || !session.deviceIp) {
    call.emit("error", {
      code: grpc.status.INVALID_ARGUMENT,
      details: "session-id and device-ip metadata are required",
    });
    return undefined;
  }
  const device = deps.resolver.resolve(agent.site, session.deviceIp);
  if (!device) {
    log.warn("refused a Data stream for an unknown device", { site: agent.site });
    call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: "unknown device" });
    return undefined;
  }
  const { counterUp: up, counterDown: down, resumeOffered: offered } = headers;
  return { call, agent, session, device, up, down, offered, log };
}

/**
 * With resume on: a stream for a session this gateway holds is re-attached to it, one for
 * another account's or device's is refused, and a draining gateway refuses every stream.
 * True when the stream was answered so; false when it starts a new session (a held one the
 * agent starts afresh is closed first).
 */
function answeredByResume(
  stream: AdmittedStream,
  resume: NonNullable<DataServiceDeps["resume"]>,
  draining: boolean,
  readGate: ReadGateWatch,
): boolean {
  const { call, agent, session, up, down, offered, log } = stream;
  if (draining) {
    // A draining gateway re-attaches nothing: a stream re-attached here would be lost again
    // when it exits, and the agent would take that end as final. Refused, the agent tries
    // again and reaches the next gateway, which answers KILL (not held): it bridges.
    call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the gateway is draining" });
    return true;
  }
  // A session this gateway holds (a lost stream, or a completed RESTART): re-attach.
  const taken = resume.held.take(session.sessionId, session.deviceIp, agent.email);
  if (taken.kind === "held" && !startsOver(taken.session.call, up, down)) {
    const agentCounters = { sent: up, received: down };
    const clock = resume.held.clock;
    void reattachHeld(call, taken.session.call, agentCounters, offered, log, readGate, clock);
    return true;
  }
  if (taken.kind === "held") {
    // The agent bridged the router after losing this session's far end (e.g. the far
    // end's hold timer expired during a partition) and opens it afresh: the held far end
    // is closed, a new one opened below, instead of a KILL that would end the router's
    // session too.
    log.info("the agent starts a held session afresh: its old far end is closed");
    resume.held.remove(session.sessionId, taken.session.call);
    taken.session.call.detach();
    taken.session.call.fail(new Error("the agent started the session afresh"));
  }
  if (taken.kind === "mismatch") {
    log.warn("refused to resume a session of another device or account", { why: taken.why });
    call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: "not your session" });
    return true;
  }
  return false;
}

/**
 * A stream re-opening a session this gateway does not hold (another gateway had it, or this
 * one restarted or let it go): the counters cannot match. The contract's answer to a
 * mismatch is KILL; the agent then falls back to a new far end (bridging) or a close.
 * True when the stream was answered so.
 */
function answeredNotHeld(stream: AdmittedStream): boolean {
  const { call, up, down, log } = stream;
  if (up === 0 && down === 0) return false;
  log.info("a re-opened session is not held here: answering KILL", {
    "counter-up": up,
    "counter-down": down,
  });
  call.sendMetadata(countersMetadata(0, 0));
  call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
  call.end();
  return true;
}

/** Answer the new session's stream (counters 0, resume accepted if offered), gate its reads. */
function acceptStream(stream: AdmittedStream, deps: DataServiceDeps, readGate: ReadGateWatch) {
  const { call, offered, log } = stream;
  call.sendMetadata(
    countersMetadata(0, 0, deps.resume && offered ? ResumeHeader.ACCEPTED : undefined),
  );
  gateCallReads(call, readGate, deps.clock ?? systemClock);
  const pin = readBackendPin(metadataReader(call.metadata));
  const outcome = pinOutcome(pin, deps.name);
  deps.pinned?.(outcome);
  if (outcome === "other") {
    // The gateway the pin names is gone (or the balancer ignores the pin): serve it here.
    log.info("serving a session pinned to another gateway", { backend_pin: pin });
  }
}

/**
 * The Data service: each stream is admitted (`admitStream`), then either answered for a
 * session that is held or not held here (`answeredByResume`, `answeredNotHeld`), or starts a
 * new session: claimed, accepted, then relayed to its target (relayed-session.ts).
 */
export function dataService(
  deps: DataServiceDeps,
): grpc.handleBidiStreamingCall<DataMessage, DataMessage> {
  const logins = deps.logins ?? new LoginGuard(deps.accounts, deps.logger, backgroundClock);
  const readGate =
    deps.readGate ?? new ReadGateWatch(deps.logger.child({ component: "gateway/data" }));
  return (call: DataCall) => {
    const stream = admitStream(call, deps, logins);
    if (!stream) return;
    const draining = deps.sessions?.draining ?? false;
    if (deps.resume && answeredByResume(stream, deps.resume, draining, readGate)) return;
    if (answeredNotHeld(stream)) return;
    const session = new RelayedSession(stream, deps);
    if (!session.claim()) return;
    acceptStream(stream, deps, readGate);
    session.open();
  };
}
