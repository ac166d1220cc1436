import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type * as grpc from "@grpc/grpc-js";
import { hostPort } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { BgpProxyError, errorMessage } from "../core/errors.ts";
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
import type { ReadAheadWatch } from "../relay/read-ahead-watch.ts";
import type { SessionCounters } from "../relay/replay-buffer.ts";
import { type RelayEndReason, StreamRelay } from "../relay/stream-relay.ts";
import type { AckLinks } from "./ack-links.ts";
import type { Admission } from "./admission.ts";
import type { BridgeOptions } from "./bridge/bridge-state.ts";
import { SessionBridge } from "./bridge/session-bridge.ts";
import { BridgeRedial } from "./bridge-redial.ts";
import { dataCallPairs, metadataMap, pairsMap, toMetadata } from "./call-metadata.ts";
import type { ChannelPool, PooledChannel } from "./channel-pool.ts";
import {
  NO_STREAM_TOTALS,
  type SessionSnapshot,
  type SessionState,
  streamTotals,
} from "./session-snapshot.ts";
import { type ResumeOptions, StreamReattach } from "./stream-reattach.ts";

/**
 * One router TCP connection on the agent: admitted through the gateway's Control answer,
 * then relayed over its own Data stream until either side closes. A RESTART or, with resume
 * agreed, a lost stream moves it to a new Data stream (stream-reattach.ts, state `resuming`).
 * With bridging on, a lost far end does not end an Established BGP session: the session is
 * "bridging" (see bridge/session-bridge.ts) while new Data streams are dialled
 * (bridge-redial.ts).
 */
const TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  admitting: ["opening", "closed"],
  opening: ["relaying", "closed"],
  relaying: ["resuming", "bridging", "closed"],
  resuming: ["relaying", "bridging", "closed"],
  bridging: ["relaying", "closed"],
  closed: [],
};

export interface RouterSessionDeps {
  admission: Admission;
  pool: ChannelPool;
  identity: AgentIdentity;
  clock: Clock;
  logger: Logger;
  highWaterMark?: number;
  /** Counts (and warns once about) Data calls left without an HTTP/2 read gate. */
  readGate?: ReadGateWatch;
  /** Counts (and warns once about) router sockets whose read-ahead could not be limited. */
  readAhead?: ReadAheadWatch;
  /** BGP-aware bridging of the session when the far end is lost; undefined = off. */
  bridge?: BridgeOptions;
  /** Resume after a lost Data stream (before bridging); undefined = off. */
  resume?: ResumeOptions;
  /** The resume acknowledgement streams (bgproxy.v1.ResumeService); needed with `resume`. */
  acks?: AckLinks;
  onClosed: (session: RouterSession) => void;
}

export class RouterSession {
  readonly sessionId = randomUUID();
  readonly connectedSince: number;
  private readonly machine: StateMachine<SessionState>;
  private readonly logger: Logger;
  private readonly reattach: StreamReattach;
  private readonly redial: BridgeRedial;
  private relay?: StreamRelay;
  private channel?: PooledChannel;
  private call?: grpc.ClientDuplexStream<DataMessage, DataMessage>;
  private deviceName?: string;
  private serverMetadata?: Record<string, string[]>;
  private bridge?: SessionBridge;
  private response?: ControlResponse;
  /** What the Data streams before the current one relayed (a bridged session has several). */
  private earlierStreams = NO_STREAM_TOTALS;

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
    this.redial = new BridgeRedial(deps.clock);
    this.reattach = new StreamReattach({
      sessionId: this.sessionId,
      pool: deps.pool,
      clock: deps.clock,
      logger: this.logger,
      ...(deps.readGate ? { readGate: deps.readGate } : {}),
      ...(deps.resume ? { resume: deps.resume } : {}),
      ...(deps.acks ? { acks: deps.acks } : {}),
      pairs: (counters) => this.callPairs(this.response as ControlResponse, counters).pairs,
      mayHold: () => this.machine.is("relaying") && this.response !== undefined,
      relaying: () => this.machine.is("relaying"),
      farEndHandshaking: () => this.farEndHandshaking,
      onDetached: () => {
        this.machine.moveTo("resuming");
        this.channel?.release();
        this.channel = undefined;
      },
      onResumed: (channel, call, md) => {
        this.channel = channel;
        this.call = call;
        this.serverMetadata = metadataMap(md);
        this.machine.moveTo("relaying");
      },
    });
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
    if (this.deps.bridge) {
      this.bridge = this.newBridge(this.deps.bridge);
      this.deps.readAhead?.record(this.bridge.routerReadAheadLimited);
    }
    this.startStream(response);
  }

  /** The Data call's metadata for this session with these counters (and the resume offer). */
  private callPairs(response: ControlResponse, counters: SessionCounters) {
    return dataCallPairs({
      identity: this.deps.identity,
      tuple: this.tuple,
      serverPairs: response.metadata,
      sessionId: this.sessionId,
      counterUp: counters.sent,
      counterDown: counters.received,
      resume: this.deps.resume !== undefined,
    });
  }

  private startStream(response: ControlResponse): void {
    const { pairs, dropped } = this.callPairs(response, { sent: 0, received: 0 });
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
      gateCallReads(call, this.deps.readGate, this.deps.clock);
      this.onServerMetadata(md, channel);
    });
    const resumable = this.reattach.wrap(call);
    const bridge = this.bridge;
    const port = bridge?.attach();
    // Behind a bridge the relay reads the bridge's port: the router's socket is read (and
    // its read-ahead limited) by the bridge, and what it has read waits before the port.
    this.relay = new StreamRelay(port ?? this.socket, resumable, {
      highWaterMark: this.deps.highWaterMark,
      readAhead: this.deps.readAhead,
      upstreamBacklog: bridge ? () => bridge.routerBacklog : undefined,
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
            this.redial.reset();
            this.logger.info("a new far end took over the router's session", { reason });
          }
        },
        onNote: (reason) => this.logger.info(reason),
        onRouterClosed: (reason) => {
          this.logger.warn("router session closed by the bridge", { reason });
          this.call?.cancel();
          this.finish();
        },
      },
      options,
    );
  }

  /** Relaying with the bridge still bridging: the new far end has not finished its handshake. */
  private get farEndHandshaking(): boolean {
    return this.bridge?.bridging === true;
  }

  /**
   * The far end was lost and the bridge keeps the router's session: dial a new stream.
   * `handshaking`: the session was bridged already and the lost one was a new far end still in
   * its handshake (one line per bridged spell says the far end was lost; one says it was taken
   * over).
   */
  private bridgeFarEnd(why: string, handshaking: boolean): void {
    if (handshaking) {
      this.logger.info("the new far end was lost in its handshake: dialling another", {
        reason: why,
      });
    } else this.logger.warn("far end lost: keeping the router's BGP session up", { reason: why });
    this.earlierStreams = streamTotals(this.earlierStreams, this.relay?.counters);
    this.relay = undefined;
    this.channel?.release();
    this.channel = undefined;
    this.call = undefined;
    if (this.machine.is("relaying", "resuming")) this.machine.moveTo("bridging");
    this.redial.schedule(() => {
      if (!this.machine.is("bridging") || !this.response) return;
      try {
        this.startStream(this.response);
      } catch (err) {
        this.close(`cannot open a Data stream: ${errorMessage(err)}`);
      }
    });
  }

  /** Abort the session (agent shutting down, KILL from an operator). */
  abort(reason: string): void {
    if (this.relay && this.machine.is("relaying", "resuming")) {
      this.relay.abort("aborted", new Error(reason));
    } else this.close(reason);
  }

  snapshot(): SessionSnapshot {
    const c = this.relay?.counters;
    const resumes = this.reattach.count;
    return {
      sessionId: this.sessionId,
      tuple: this.tuple,
      state: this.machine.state,
      connectedSince: this.connectedSince,
      deviceName: this.deviceName,
      serverMetadata: this.serverMetadata,
      ...streamTotals(this.earlierStreams, c),
      bufferedBytes: this.relay?.bufferedBytes ?? 0,
      readsUp: c?.socketReads ?? 0,
      ...(this.deps.resume || resumes > 0 ? { resumes } : {}),
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
    const resumable = this.reattach.resumable;
    if (!this.machine.is("relaying") || !resumable) return false;
    const started = resumable.restart();
    if (started) this.logger.info("RESTART sent: moving the session to a new Data stream");
    return started;
  }

  private onServerMetadata(md: grpc.Metadata, channel: PooledChannel): void {
    this.serverMetadata = metadataMap(md);
    const answer = readResumeAnswer(metadataReader(md));
    if (answer === undefined) this.reattach.resumable?.disable();
    else this.reattach.joinAcks(channel);
    const counters = readCounters(metadataReader(md));
    const relay = this.relay;
    if (!counters || !relay) return;
    // A new session: the gateway must not claim messages we never exchanged.
    if (counters.up !== 0 || counters.down !== 0) {
      this.logger.warn("gateway counters do not match this session: killing it", {
        "counter-up": String(counters.up),
        "counter-down": String(counters.down),
      });
      relay.abort(
        "aborted",
        new BgpProxyError("protocol", "counter mismatch", { retryable: false }),
      );
    }
  }

  private onRelayEnd(ended: RelayEndReason, error?: Error): void {
    this.reattach.cancel();
    // A re-open after a RESTART that no gateway took: the session ends as by the RESTART.
    const reason = this.reattach.afterRestart && ended === "call-error" ? "restart" : ended;
    const c = this.relay?.counters;
    const resumable = this.reattach.resumable;
    const fields = {
      reason,
      bytes_up: c?.bytesFromSocket,
      bytes_down: c?.bytesToSocket,
      duration_ms: this.deps.clock.now() - this.connectedSince,
      ...(resumable ? { counters: resumable.counters } : {}),
      ...(error ? { error: errorMessage(error) } : {}),
    };
    if (reason === "closed") this.logger.info("session closed", fields);
    else this.logger.warn("session ended", fields);
    if (reason === "killed") this.deps.admission.forget(this.tuple.deviceIp);
    const handshaking = this.farEndHandshaking;
    if (this.bridge?.farEndLost(reason, error ? errorMessage(error) : reason)) {
      this.bridgeFarEnd(error ? errorMessage(error) : reason, handshaking);
      return;
    }
    this.finish();
  }

  private close(reason: string): void {
    if (this.machine.is("closed")) return;
    this.logger.debug("closing router connection", { reason });
    if (!this.socket.destroyed) this.socket.destroy();
    this.call?.cancel();
    this.finish();
  }

  /** The one way a session ends: nothing of it runs after (no redial, no re-attach). */
  private finish(): void {
    if (this.machine.is("closed")) return;
    this.machine.moveTo("closed");
    this.redial.cancel();
    this.reattach.leave();
    this.channel?.release();
    this.channel = undefined;
    this.deps.onClosed(this);
  }
}
