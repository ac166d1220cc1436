import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import type { SpeakerMonitor } from "../collector/speaker-options.ts";
import type { AccountConfig } from "../config/types.ts";
import { backgroundClock, type Clock, systemClock } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
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
import type { ResumableCall } from "../relay/resumable-call.ts";
import { StreamRelay } from "../relay/stream-relay.ts";
import { admitAgentCall } from "./agent-call.ts";
import type { AgentDirectory } from "./agent-directory.ts";
import type { DeviceRuntime } from "./device-registry.ts";
import type { DeviceResolver } from "./device-resolver.ts";
import type { DeviceTracker, SessionEvents } from "./device-tracker.ts";
import type { HeldSessions } from "./held-sessions.ts";
import { LoginGuard } from "./login-guard.ts";
import { SessionObserver } from "./session-observer.ts";
import { countersMetadata, holdable, reattachHeld, startsOver } from "./session-reattach.ts";
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

/** A target that can be told why its router side is about to end, for its own logs. */
export interface ClosingCause {
  closingBecause(cause: string): void;
}

function canBeTold(target: object): target is ClosingCause {
  return typeof (target as Partial<ClosingCause>).closingBecause === "function";
}

/**
 * A cancelled stream (the link or the agent went away) ends the target's router side like
 * a FIN would, since the stream's readable side ends too: the target hears why first.
 */
function tellCause(call: DataCall, target: ClosingCause): void {
  call.once("cancelled", () => {
    target.closingBecause("the agent's stream was cut (agent link lost or agent stopped)");
  });
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

/** How long a target's FIN waits for the agent's side to finish before the RPC ends. */
export const TARGET_FIN_GRACE_MS = 3_000;

/**
 * How long a daemon's socket ended by the agent's KILL may take to close after its FIN (the
 * bytes queued for it, a NOTIFICATION, go first) before it is destroyed.
 */
export const TARGET_KILL_GRACE_MS = 1_000;

type DataCall = grpc.ServerDuplexStream<DataMessage, DataMessage>;

export function dataService(
  deps: DataServiceDeps,
): grpc.handleBidiStreamingCall<DataMessage, DataMessage> {
  const logins = deps.logins ?? new LoginGuard(deps.accounts, deps.logger, backgroundClock);
  const readGate =
    deps.readGate ?? new ReadGateWatch(deps.logger.child({ component: "gateway/data" }));
  return (call: DataCall) => {
    const data = deps.logger.child({ component: "gateway/data" });
    const base = deps.sessionLogs ? deps.sessionLogs.forSession(data) : data;
    const agent = admitAgentCall(call, logins);
    if (!agent) return;
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
      return;
    }
    const device = deps.resolver.resolve(agent.site, session.deviceIp);
    if (!device) {
      log.warn("refused a Data stream for an unknown device", { site: agent.site });
      call.emit("error", { code: grpc.status.PERMISSION_DENIED, details: "unknown device" });
      return;
    }
    const up = headers.counterUp;
    const down = headers.counterDown;
    const offered = headers.resumeOffered;
    const resume = deps.resume;
    if (resume && deps.sessions?.draining) {
      // A draining gateway re-attaches nothing: a stream re-attached here would be lost again
      // when it exits, and the agent would take that end as final. Refused, the agent tries
      // again and reaches the next gateway, which answers KILL (not held): it bridges.
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the gateway is draining" });
      return;
    }
    if (resume) {
      // A session this gateway holds (a lost stream, or a completed RESTART): re-attach.
      const taken = resume.held.take(session.sessionId, session.deviceIp, agent.email);
      if (taken.kind === "held" && !startsOver(taken.session.call, up, down)) {
        const agentCounters = { sent: up, received: down };
        const clock = resume.held.clock;
        void reattachHeld(call, taken.session.call, agentCounters, offered, log, readGate, clock);
        return;
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
        return;
      }
    }
    if (up !== 0 || down !== 0) {
      // A stream re-opening a session this gateway does not hold (another gateway had it, or
      // this one restarted or let it go): the counters cannot match. The contract's answer to
      // a mismatch is KILL; the agent then falls back to a new far end (bridging) or a close.
      log.info("a re-opened session is not held here: answering KILL", {
        "counter-up": up,
        "counter-down": down,
      });
      call.sendMetadata(countersMetadata(0, 0));
      call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
      call.end();
      return;
    }
    // Ends the session from outside (a reload removed or changed its device).
    let relay: StreamRelay | undefined;
    // A resumable session's stream: lost streams are held for a re-attach (held-sessions.ts).
    let resumable: ResumableCall | undefined;
    let endedBy: string | undefined;
    const claimed = deps.sessions?.claim(device, agent.instance, session.sessionId, {
      end: (why) => {
        endedBy ??= why;
        relay?.abort("aborted", new Error(why));
      },
      restart: (hold) => {
        if (resumable?.detached) {
          // No stream to carry RESTART: a held session waits on, a draining gateway ends it.
          if (!hold) resumable.fail(new Error("the gateway is draining"));
          return false;
        }
        if (hold && resumable) return resumable.restart();
        if (relay) relay.restart();
        else if (!hold) endedBy ??= "the gateway is draining";
        return relay !== undefined;
      },
    });
    if (claimed?.kind === "draining") {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the gateway is draining" });
      return;
    }
    if (claimed?.kind === "refused") {
      const fields = { device: device.config.name, relayed_by: claimed.holder };
      if (claimed.firstRefusal) {
        log.warn(
          "refused a second agent for a device another agent relays (first one stays)",
          fields,
        );
      } else log.debug("refused a second agent for a device another agent relays", fields);
      call.emit("error", {
        code: grpc.status.ALREADY_EXISTS,
        details: "device is relayed by another agent",
      });
      return;
    }
    call.sendMetadata(
      countersMetadata(0, 0, resume && offered ? ResumeHeader.ACCEPTED : undefined),
    );
    gateCallReads(call, readGate, deps.clock ?? systemClock);
    const pin = readBackendPin(metadataReader(call.metadata));
    const outcome = pinOutcome(pin, deps.name);
    deps.pinned?.(outcome);
    if (outcome === "other") {
      // The gateway the pin names is gone (or the balancer ignores the pin): serve it here.
      log.info("serving a session pinned to another gateway", { backend_pin: pin });
    }

    let cancelled = false;
    call.on("cancelled", () => {
      cancelled = true;
      // The agent cancelled the call: the relay may not hear of it otherwise.
      if (!resumable) relay?.abort("call-error", new Error("the agent cancelled the Data stream"));
    });
    const events = deps.tracker.opened(device);
    deps.agents?.sessionOpened(agent.instance);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      events.closed();
      deps.agents?.sessionClosed(agent.instance);
      if (claimed?.kind === "claimed") claimed.claim.release();
    };
    deps
      .openTarget(device, session, events, log)
      .then((target) => {
        if (cancelled || endedBy) {
          target.destroy();
          release();
          if (endedBy) call.emit("error", { code: grpc.status.ABORTED, details: endedBy });
          return;
        }
        if (canBeTold(target) && !(resume && offered)) tellCause(call, target);
        if (resume) {
          const holdOnRestart = () => !(deps.sessions?.draining ?? false);
          resumable = holdable(call, resume, session.sessionId, offered, holdOnRestart, log);
          resume.held.add(session.sessionId, {
            call: resumable,
            deviceIp: session.deviceIp,
            email: agent.email,
          });
        }
        log.info("relaying session", {
          device: device.config.name,
          target: device.config.target.kind,
        });
        const how = device.config.target;
        const forwarded = how.kind === "forward";
        // observe = false: relay only, no BGP parsing (and no state or counts shown).
        const observer =
          forwarded && how.observe !== false
            ? new SessionObserver(events, deps.monitor?.(device, session))
            : undefined;
        relay = new StreamRelay(target, resumable ?? call, {
          highWaterMark: deps.highWaterMark,
          readAhead: deps.readAhead,
          // The collector reads nothing after it closed: only a daemon's FIN waits.
          socketEndGraceMs: forwarded ? TARGET_FIN_GRACE_MS : undefined,
          // The collector takes every write at once: a reset loses nothing there.
          killEndGraceMs: forwarded ? TARGET_KILL_GRACE_MS : undefined,
          tap: observer && {
            fromSocket: (chunk) => observer.fromDaemon(chunk),
            toSocket: (chunk) => observer.fromRouter(chunk),
          },
          abortCall: () =>
            resumable
              ? resumable.abort()
              : call.emit("error", { code: grpc.status.ABORTED, details: "session killed" }),
          onEnd: (reason, error) => {
            if (resumable) resume?.held.remove(session.sessionId, resumable);
            observer?.ended();
            release();
            const fields = {
              reason,
              bytes_up: relay?.counters.bytesToSocket ?? 0,
              bytes_down: relay?.counters.bytesFromSocket ?? 0,
              ...(resumable ? { counters: resumable.counters } : {}),
              ...(error ? { error: errorMessage(error) } : {}),
            };
            if (reason === "closed") log.info("session closed", fields);
            else log.warn("session ended", fields);
          },
        });
        relay.start();
      })
      .catch((err: unknown) => {
        release();
        log.warn(`cannot open the session's target: ${errorMessage(err)}`);
        call.emit("error", { code: grpc.status.UNAVAILABLE, details: errorMessage(err) });
      });
  };
}
