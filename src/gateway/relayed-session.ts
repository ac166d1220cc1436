import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { errorMessage } from "../core/errors.ts";
import type { ResumableCall } from "../relay/resumable-call.ts";
import { StreamRelay } from "../relay/stream-relay.ts";
import type { AdmittedStream, DataCall, DataServiceDeps } from "./data-service.ts";
import type { SessionEvents } from "./device-tracker.ts";
import { SessionObserver } from "./session-observer.ts";
import { holdable } from "./session-reattach.ts";
import type { ClaimResult } from "./session-table.ts";

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

/** How long a target's FIN waits for the agent's side to finish before the RPC ends. */
export const TARGET_FIN_GRACE_MS = 3_000;

/**
 * How long a daemon's socket ended by the agent's KILL may take to close after its FIN (the
 * bytes queued for it, a NOTIFICATION, go first) before it is destroyed.
 */
export const TARGET_KILL_GRACE_MS = 1_000;

export type RelayedSessionDeps = Pick<
  DataServiceDeps,
  | "openTarget"
  | "tracker"
  | "highWaterMark"
  | "agents"
  | "sessions"
  | "readAhead"
  | "monitor"
  | "resume"
>;

/**
 * A new session on an admitted Data stream (data-service.ts), from its claim on the device to
 * its end: the claim (the duplicate-device rule; a reload or a drain ends or restarts the
 * session through it), the device's target (the built-in collector or a BGP daemon) and the
 * relay between the stream and the target.
 */
export class RelayedSession {
  /** Relays once the target is open. */
  private relay: StreamRelay | undefined;
  /** A resumable session's stream: lost streams are held for a re-attach (held-sessions.ts). */
  private resumable: ResumableCall | undefined;
  /** Why the session was ended from outside (a reload removed or changed its device). */
  private endedBy: string | undefined;
  /** The agent cancelled the call. */
  private cancelled = false;
  private released = false;
  private claimed: ClaimResult | undefined;

  constructor(
    private readonly stream: AdmittedStream,
    private readonly deps: RelayedSessionDeps,
  ) {}

  /** Claim the device; false when the claim was refused (the call was answered). */
  claim(): boolean {
    const { call, agent, session, device, log } = this.stream;
    this.claimed = this.deps.sessions?.claim(device, agent.instance, session.sessionId, {
      end: (why) => {
        this.endedBy ??= why;
        this.relay?.abort("aborted", new Error(why));
      },
      restart: (hold) => this.restart(hold),
    });
    const claimed = this.claimed;
    if (claimed?.kind === "draining") {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the gateway is draining" });
      return false;
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
      return false;
    }
    return true;
  }

  /** A graceful RESTART asked through the claim (`hold`: keep the session for its next stream). */
  private restart(hold: boolean): boolean {
    const { resumable, relay } = this;
    if (resumable?.detached) {
      // No stream to carry RESTART: a held session waits on, a draining gateway ends it.
      if (!hold) resumable.fail(new Error("the gateway is draining"));
      return false;
    }
    if (hold && resumable) return resumable.restart();
    if (relay) relay.restart();
    else if (!hold) this.endedBy ??= "the gateway is draining";
    return relay !== undefined;
  }

  /** Open the device's target, then relay; the stream was accepted (its headers sent). */
  open(): void {
    const { call, agent, device, session, log } = this.stream;
    call.on("cancelled", () => {
      this.cancelled = true;
      // grpc-js says "cancelled" of every closed stream: the relay tells the agent's cut
      // (it may not hear of it otherwise) from the RPC's normal end after our status.
      if (!this.resumable) {
        this.relay?.streamClosed(
          new Error("the agent cancelled the Data stream"),
          TARGET_KILL_GRACE_MS,
        );
      }
    });
    const events = this.deps.tracker.opened(device);
    this.deps.agents?.sessionOpened(agent.instance);
    const release = () => this.release(events);
    this.deps
      .openTarget(device, session, events, log)
      .then((target) => {
        if (this.cancelled || this.endedBy) {
          target.destroy();
          release();
          if (this.endedBy)
            call.emit("error", { code: grpc.status.ABORTED, details: this.endedBy });
          return;
        }
        this.startRelay(target, events, release);
      })
      .catch((err: unknown) => {
        release();
        log.warn(`cannot open the session's target: ${errorMessage(err)}`);
        call.emit("error", { code: grpc.status.UNAVAILABLE, details: errorMessage(err) });
      });
  }

  /** The session's end, once: its device, its agent and its claim hear of it. */
  private release(events: SessionEvents): void {
    if (this.released) return;
    this.released = true;
    events.closed();
    this.deps.agents?.sessionClosed(this.stream.agent.instance);
    if (this.claimed?.kind === "claimed") this.claimed.claim.release();
  }

  private startRelay(target: Duplex, events: SessionEvents, release: () => void): void {
    const { call, agent, device, session, offered, log } = this.stream;
    const { resume } = this.deps;
    if (canBeTold(target) && !(resume && offered)) tellCause(call, target);
    if (resume) {
      const holdOnRestart = () => !(this.deps.sessions?.draining ?? false);
      this.resumable = holdable(call, resume, session.sessionId, offered, holdOnRestart, log);
      resume.held.add(session.sessionId, {
        call: this.resumable,
        deviceIp: session.deviceIp,
        email: agent.email,
      });
    }
    const resumable = this.resumable;
    log.info("relaying session", {
      device: device.config.name,
      target: device.config.target.kind,
    });
    const how = device.config.target;
    const forwarded = how.kind === "forward";
    // observe = false: relay only, no BGP parsing (and no state or counts shown).
    const observer =
      forwarded && how.observe !== false
        ? new SessionObserver(events, this.deps.monitor?.(device, session))
        : undefined;
    const relay = new StreamRelay(target, resumable ?? call, {
      highWaterMark: this.deps.highWaterMark,
      readAhead: this.deps.readAhead,
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
          bytes_up: relay.counters.bytesToSocket,
          bytes_down: relay.counters.bytesFromSocket,
          ...(resumable ? { counters: resumable.counters } : {}),
          ...(error ? { error: errorMessage(error) } : {}),
        };
        if (reason === "closed") log.info("session closed", fields);
        else log.warn("session ended", fields);
      },
    });
    this.relay = relay;
    relay.start();
  }
}
