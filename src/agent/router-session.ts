import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type * as grpc from "@grpc/grpc-js";
import { hostPort } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { StateMachine } from "../core/state-machine.ts";
import type { ControlResponse, DataMessage, FiveTuple } from "../proto/messages.ts";
import {
  type AgentIdentity,
  metadataReader,
  readCounters,
  readResumeAnswer,
} from "../proto/metadata.ts";
import { gateCallReads, type ReadGateWatch } from "../relay/http2-read-gate.ts";
import { ResumableCall } from "../relay/resumable-call.ts";
import { type RelayEndReason, StreamRelay } from "../relay/stream-relay.ts";
import type { AckLinks } from "./ack-links.ts";
import type { Admission } from "./admission.ts";
import type { BridgeOptions, BridgeSnapshot } from "./bridge/bridge-state.ts";
import { SessionBridge } from "./bridge/session-bridge.ts";
import { dataCallPairs, metadataMap, pairsMap, toMetadata } from "./call-metadata.ts";
import type { ChannelPool, PooledChannel } from "./channel-pool.ts";
import { SessionResume } from "./session-resume.ts";

/**
 * One router TCP connection on the agent: admitted through the gateway's Control answer,
 * then relayed over its own Data stream until either side closes. With bridging on, a lost
 * far end does not end an Established BGP session: the session is "bridging" (see
 * bridge/session-bridge.ts) while new Data streams are dialled.
 */
export type SessionState =
  | "admitting"
  | "opening"
  | "relaying"
  | "resuming"
  | "bridging"
  | "closed";

const TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  admitting: ["opening", "closed"],
  opening: ["relaying", "closed"],
  relaying: ["resuming", "bridging", "closed"],
  resuming: ["relaying", "bridging", "closed"],
  bridging: ["relaying", "closed"],
  closed: [],
};

/** Delay between Data stream attempts for a bridged session (the bridge bounds the total). */
export const BRIDGE_REDIAL_MS = { first: 250, max: 5_000 } as const;

export interface RouterSessionDeps {
  admission: Admission;
  pool: ChannelPool;
  identity: AgentIdentity;
  clock: Clock;
  logger: Logger;
  highWaterMark?: number;
  /** Counts (and warns once about) Data calls left without an HTTP/2 read gate. */
  readGate?: ReadGateWatch;
  /** BGP-aware bridging of the session when the far end is lost; undefined = off. */
  bridge?: BridgeOptions;
  /** Resume after a lost Data stream (before bridging); undefined = off. */
  resume?: ResumeOptions;
  /** The resume acknowledgement streams (bgproxy.v1.ResumeService); needed with `resume`. */
  acks?: AckLinks;
  onClosed: (session: RouterSession) => void;
}

/** Resume after a lost Data stream (session-resume.md in docs/resilience.md). */
export interface ResumeOptions {
  /** Replay buffer bound per direction (bytes). */
  limitBytes: number;
  /** How long the agent tries to re-attach before it gives up (bridging or close). */
  windowMs: number;
}

export const DEFAULT_RESUME_WINDOW_MS = 20_000;

/**
 * After a completed RESTART, how long the agent tries to re-open the session on a new Data
 * stream before it falls back (bridging or a close): the router hears nothing meanwhile.
 */
export const RESTART_REOPEN_WINDOW_MS = 5_000;

export interface SessionSnapshot {
  sessionId: string;
  tuple: FiveTuple;
  state: SessionState;
  connectedSince: number;
  deviceName?: string;
  serverMetadata?: Record<string, string[]>;
  bytesUp: number;
  bytesDown: number;
  messagesUp: number;
  messagesDown: number;
  bufferedBytes: number;
  /** Socket reads of the current Data stream (one per "data" event; a cost driver under load). */
  readsUp?: number;
  /** BGP-aware bridging of the session, when it is on. */
  bridge?: BridgeSnapshot;
  /** Data streams this session was re-attached to by resume (resume on). */
  resumes?: number;
}

export class RouterSession {
  readonly sessionId = randomUUID();
  readonly connectedSince: number;
  private readonly machine: StateMachine<SessionState>;
  private readonly logger: Logger;
  private relay?: StreamRelay;
  private channel?: PooledChannel;
  private call?: grpc.ClientDuplexStream<DataMessage, DataMessage>;
  private deviceName?: string;
  private serverMetadata?: Record<string, string[]>;
  private bridge?: SessionBridge;
  private response?: ControlResponse;
  private redial?: { timer?: { cancel(): void }; delayMs: number };
  /** The current stream's resumable wrapper (resume on). */
  private resumable?: ResumableCall;
  /** An ongoing resume: when it gives up, the next attempt's timer. */
  private resuming?: SessionResume;
  /** Streams re-attached by resume or after a RESTART. */
  private resumes = 0;
  /** The current re-open follows a RESTART (not a lost stream). */
  private afterRestart = false;
  /** Leaves the acknowledgement stream the session is registered with. */
  private leaveAcks?: () => void;
  /** What the Data streams before the current one relayed (a bridged session has several). */
  private earlierStreams = { bytesUp: 0, bytesDown: 0, messagesUp: 0, messagesDown: 0 };

  constructor(
    private readonly socket: Socket,
    readonly tuple: FiveTuple,
    private readonly deps: RouterSessionDeps,
  ) {
    this.connectedSince = deps.clock.now();
    this.logger = deps.logger.child({
      "peer-addr": hostPort(tuple.deviceIp, tuple.devicePort),
      "local-addr": hostPort(tuple.proxyIp, tuple.proxyPort),
      device_ip: tuple.deviceIp,
      "session-id": this.sessionId,
    });
    this.machine = new StateMachine<SessionState>(
      "session",
      "admitting",
      TRANSITIONS,
      this.logger,
      () => deps.clock.now(),
    );
    socket.on("error", (err) => {
      if (this.machine.is("admitting", "opening")) this.close(`router socket: ${err.message}`);
    });
    socket.on("close", () => {
      if (this.machine.is("admitting", "opening")) this.close("router closed the connection");
    });
  }

  get state(): SessionState {
    return this.machine.state;
  }

  /** Admit, open the Data stream and relay; resolves when the session is set up or refused. */
  async run(): Promise<void> {
    let decision: Awaited<ReturnType<Admission["admit"]>>;
    try {
      decision = await this.deps.admission.admit(this.tuple, this.sessionId);
    } catch (err) {
      this.logger.warn(`no decision for the router connection: ${errorMessage(err)}`);
      this.close("no control answer");
      return;
    }
    if (this.machine.is("closed")) return;
    if (decision.kind === "blocked") {
      this.close(`device blocked for ${decision.ttlSeconds} s`);
      return;
    }
    try {
      this.openDataStream(decision.response);
    } catch (err) {
      // Whatever the gateway sent, a bad answer ends this connection, never the agent.
      this.logger.error(`cannot open the Data stream: ${errorMessage(err)}`);
      this.close("cannot open the Data stream");
    }
  }

  private openDataStream(response: ControlResponse): void {
    this.deviceName = response.deviceName || undefined;
    this.response = response;
    this.machine.moveTo("opening");
    if (this.deps.bridge) this.bridge = this.newBridge(this.deps.bridge);
    this.startStream(response);
  }

  private startStream(response: ControlResponse): void {
    const { pairs, dropped } = dataCallPairs({
      identity: this.deps.identity,
      tuple: this.tuple,
      serverPairs: response.metadata,
      sessionId: this.sessionId,
      counterUp: 0,
      counterDown: 0,
      resume: this.deps.resume !== undefined,
    });
    if (dropped.length > 0) {
      this.logger.warn("dropped metadata the gateway sent that HTTP/2 cannot carry", {
        keys: dropped,
      });
    }
    this.logger.info("opening Data stream", {
      "client-metadata": pairsMap(pairs),
      device: response.deviceName ? `${response.deviceId}:${response.deviceName}` : undefined,
    });
    const metadata = toMetadata(pairs);
    const channel = this.deps.pool.acquire();
    this.channel = channel;
    const call = channel.client.data(metadata);
    this.call = call;
    call.on("metadata", (md: grpc.Metadata) => {
      gateCallReads(call, this.deps.readGate);
      this.onServerMetadata(md, channel);
    });
    // Every stream is re-openable after a RESTART; a lost one only with resume agreed.
    const resume = this.deps.resume;
    const resumable = new ResumableCall(
      { call, abort: () => call.cancel() },
      {
        limitBytes: resume?.limitBytes ?? 0,
        onLost: (error) => this.streamLost(error),
        holdOnRestart: () => this.machine.is("relaying") && this.response !== undefined,
        onRestarted: () => {
          this.afterRestart = true;
          this.logger.info("RESTART completed: re-opening the session on a new Data stream");
          this.reopen(RESTART_REOPEN_WINDOW_MS);
        },
      },
    );
    if (!resume) resumable.disable();
    this.resumable = resumable;
    this.relay = new StreamRelay(this.bridge?.attach() ?? this.socket, resumable, {
      highWaterMark: this.deps.highWaterMark,
      abortCall: () => resumable.abort(),
      onEnd: (reason, error) => this.onRelayEnd(reason, error),
    });
    this.machine.moveTo("relaying");
    this.relay.start();
  }

  private newBridge(options: BridgeOptions): SessionBridge {
    return new SessionBridge(
      this.socket,
      this.deps.clock,
      {
        onState: (from, to, reason) => {
          this.logger.debug(`bridge ${from} -> ${to}`, { reason });
          if (from === "reattach-open-confirm" && to === "established") {
            this.redial = undefined;
            this.logger.info("a new far end took over the router's session", { reason });
          }
        },
        onNote: (reason) => this.logger.info(reason),
        onRouterClosed: (reason) => {
          this.logger.warn("router session closed by the bridge", { reason });
          this.call?.cancel();
          this.redial?.timer?.cancel();
          this.finish();
        },
      },
      options,
    );
  }

  /** The far end was lost and the bridge keeps the router's session: dial a new stream. */
  private bridgeFarEnd(why: string): void {
    this.logger.warn("far end lost: keeping the router's BGP session up", { reason: why });
    const c = this.relay?.counters;
    const e = this.earlierStreams;
    this.earlierStreams = {
      bytesUp: e.bytesUp + (c?.bytesFromSocket ?? 0),
      bytesDown: e.bytesDown + (c?.bytesToSocket ?? 0),
      messagesUp: e.messagesUp + (c?.messagesSent ?? 0),
      messagesDown: e.messagesDown + (c?.messagesReceived ?? 0),
    };
    this.relay = undefined;
    this.channel?.release();
    this.channel = undefined;
    this.call = undefined;
    if (this.machine.is("relaying", "resuming")) this.machine.moveTo("bridging");
    const delayMs = Math.min(
      this.redial ? this.redial.delayMs * 2 : BRIDGE_REDIAL_MS.first,
      BRIDGE_REDIAL_MS.max,
    );
    const timer = this.deps.clock.schedule(delayMs, () => {
      if (!this.machine.is("bridging") || !this.response) return;
      try {
        this.startStream(this.response);
      } catch (err) {
        this.close(`cannot open a Data stream: ${errorMessage(err)}`);
      }
    });
    this.redial = { timer, delayMs };
  }

  /** Abort the session (agent shutting down, KILL from an operator). */
  abort(reason: string): void {
    if (this.relay && this.machine.is("relaying", "resuming")) {
      this.relay.abort("aborted", new Error(reason));
    } else this.close(reason);
  }

  snapshot(): SessionSnapshot {
    const c = this.relay?.counters;
    const e = this.earlierStreams;
    return {
      sessionId: this.sessionId,
      tuple: this.tuple,
      state: this.machine.state,
      connectedSince: this.connectedSince,
      deviceName: this.deviceName,
      serverMetadata: this.serverMetadata,
      bytesUp: e.bytesUp + (c?.bytesFromSocket ?? 0),
      bytesDown: e.bytesDown + (c?.bytesToSocket ?? 0),
      messagesUp: e.messagesUp + (c?.messagesSent ?? 0),
      messagesDown: e.messagesDown + (c?.messagesReceived ?? 0),
      bufferedBytes: this.relay?.bufferedBytes ?? 0,
      readsUp: c?.socketReads ?? 0,
      ...(this.deps.resume || this.resumes > 0 ? { resumes: this.resumes } : {}),
      ...(this.bridge && (this.deps.bridge?.giveUpMs ?? 0) > 0
        ? { bridge: this.bridge.bridge.snapshot() }
        : {}),
    };
  }

  /**
   * Move the session to a new Data stream by a graceful RESTART this agent starts (wire
   * contract, "Graceful RESTART"). False when it is not relaying on a stream now.
   */
  restart(): boolean {
    if (!this.machine.is("relaying") || !this.resumable) return false;
    const started = this.resumable.restart();
    if (started) this.logger.info("RESTART sent: moving the session to a new Data stream");
    return started;
  }

  /** The current stream was lost: try to re-attach the session before anything else. */
  private streamLost(error: Error): void {
    const resume = this.deps.resume;
    if (!resume || !this.machine.is("relaying")) {
      this.resumable?.fail(error);
      return;
    }
    this.logger.warn("Data stream lost: resuming the session", { error: errorMessage(error) });
    this.reopen(resume.windowMs);
  }

  /**
   * The session has no stream (lost, or a RESTART completed): dial new ones with the same
   * session-id and the counters as they stand until the gateway re-attaches it or `windowMs`
   * passed; then the relay ends as without re-attach (bridging or a close).
   */
  private reopen(windowMs: number): void {
    this.machine.moveTo("resuming");
    this.channel?.release();
    this.channel = undefined;
    this.leaveAcks?.();
    this.leaveAcks = undefined;
    const resumable = this.resumable as ResumableCall;
    const response = this.response as ControlResponse;
    const offered = this.deps.resume !== undefined;
    this.resuming = new SessionResume({
      resumable,
      pool: this.deps.pool,
      clock: this.deps.clock,
      logger: this.logger,
      windowMs,
      ...(this.deps.readGate ? { readGate: this.deps.readGate } : {}),
      pairs: (counters) =>
        dataCallPairs({
          identity: this.deps.identity,
          tuple: this.tuple,
          serverPairs: response.metadata,
          sessionId: this.sessionId,
          counterUp: counters.sent,
          counterDown: counters.received,
          resume: offered,
        }).pairs,
      onResumed: (channel, call, md) => {
        this.resuming = undefined;
        this.channel = channel;
        this.call = call;
        this.serverMetadata = metadataMap(md);
        this.resumes++;
        this.afterRestart = false;
        if (readResumeAnswer(metadataReader(md)) === "resumed") this.joinAcks(channel);
        this.machine.moveTo("relaying");
      },
    });
    this.resuming.attempt();
  }

  /** Acknowledge over the connection the session's stream runs on (resume agreed). */
  private joinAcks(channel: PooledChannel): void {
    this.leaveAcks?.();
    this.leaveAcks = undefined;
    if (this.resumable && this.deps.acks) {
      this.leaveAcks = this.deps.acks.register(channel.client, this.sessionId, this.resumable);
    }
  }

  private onServerMetadata(md: grpc.Metadata, channel: PooledChannel): void {
    this.serverMetadata = metadataMap(md);
    const answer = readResumeAnswer(metadataReader(md));
    if (answer === undefined) this.resumable?.disable();
    else this.joinAcks(channel);
    const counters = readCounters(metadataReader(md));
    const relay = this.relay;
    if (!counters || !relay) return;
    // A new session: the gateway must not claim messages we never exchanged.
    if (counters.up !== 0 || counters.down !== 0) {
      this.logger.warn("gateway counters do not match this session: killing it", {
        "counter-up": String(counters.up),
        "counter-down": String(counters.down),
      });
      relay.abort("aborted", new Error("counter mismatch"));
    }
  }

  private onRelayEnd(ended: RelayEndReason, error?: Error): void {
    this.resuming?.cancel();
    this.resuming = undefined;
    // A re-open after a RESTART that no gateway took: the session ends as by the RESTART.
    const reason = this.afterRestart && ended === "call-error" ? "restart" : ended;
    const c = this.relay?.counters;
    const fields = {
      reason,
      bytes_up: c?.bytesFromSocket,
      bytes_down: c?.bytesToSocket,
      duration_ms: this.deps.clock.now() - this.connectedSince,
      ...(this.resumable ? { counters: this.resumable.counters } : {}),
      ...(error ? { error: errorMessage(error) } : {}),
    };
    if (reason === "closed") this.logger.info("session closed", fields);
    else this.logger.warn("session ended", fields);
    if (reason === "killed") this.deps.admission.forget(this.tuple.deviceIp);
    if (this.bridge?.farEndLost(reason, error ? errorMessage(error) : reason)) {
      this.bridgeFarEnd(error ? errorMessage(error) : reason);
      return;
    }
    this.finish();
  }

  private close(reason: string): void {
    if (this.machine.is("closed")) return;
    this.logger.debug("closing router connection", { reason });
    this.redial?.timer?.cancel();
    if (!this.socket.destroyed) this.socket.destroy();
    this.call?.cancel();
    this.finish();
  }

  private finish(): void {
    if (this.machine.is("closed")) return;
    this.machine.moveTo("closed");
    this.leaveAcks?.();
    this.leaveAcks = undefined;
    this.channel?.release();
    this.channel = undefined;
    this.deps.onClosed(this);
  }
}
