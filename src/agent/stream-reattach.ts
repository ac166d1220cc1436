import type * as grpc from "@grpc/grpc-js";
import type { Clock } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { DataMessage } from "../proto/messages.ts";
import { type MetadataPairs, metadataReader, readResumeAnswer } from "../proto/metadata.ts";
import type { ReadGateWatch } from "../relay/http2-read-gate.ts";
import type { SessionCounters } from "../relay/replay-buffer.ts";
import { ResumableCall } from "../relay/resumable-call.ts";
import type { AckLinks } from "./ack-links.ts";
import type { ChannelPool, PooledChannel } from "./channel-pool.ts";
import { SessionResume } from "./session-resume.ts";

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

export interface StreamReattachDeps {
  sessionId: string;
  pool: ChannelPool;
  clock: Clock;
  logger: Logger;
  /** Counts (and warns once about) Data calls left without an HTTP/2 read gate. */
  readGate?: ReadGateWatch;
  /** Resume after a lost Data stream; undefined = only re-open after a RESTART. */
  resume?: ResumeOptions;
  /** The resume acknowledgement streams (bgproxy.v1.ResumeService); needed with `resume`. */
  acks?: AckLinks;
  /** The Data call's metadata with these counters (and the resume offer). */
  pairs(counters: SessionCounters): MetadataPairs;
  /** The session is relaying on a stream it may move (a RESTART then holds it detached). */
  mayHold(): boolean;
  /** The session is relaying (a lost stream is resumed only then). */
  relaying(): boolean;
  /**
   * A bridged session's new far end is still in its handshake: a lost stream is then not
   * resumed but ends the relay, and the bridge, still keeping the router's session, redials.
   */
  farEndHandshaking(): boolean;
  /** The session lost its stream: it is `resuming` and has released its channel. */
  onDetached(): void;
  /**
   * The session goes on over `call` on `channel` (already attached, acknowledgements joined
   * when the gateway resumed it); `md` is the gateway's answer.
   */
  onResumed(
    channel: PooledChannel,
    call: grpc.ClientDuplexStream<DataMessage, DataMessage>,
    md: grpc.Metadata,
  ): void;
}

/**
 * Moving one router session to new Data streams on the agent (docs/architecture.md,
 * "RESTART"): every stream is wrapped in a ResumableCall, re-opened after a completed RESTART
 * and, with resume agreed, after a loss, by a SessionResume that dials with the same
 * session-id and the counters as they stand. Owns the re-open in progress, the count of
 * re-attached streams and the session's place on the acknowledgement streams.
 */
export class StreamReattach {
  /** The current stream's resumable wrapper. */
  private current?: ResumableCall;
  /** An ongoing re-open: when it gives up, the next attempt's timer. */
  private resuming?: SessionResume;
  /** Streams re-attached by resume or after a RESTART. */
  private reattached = 0;
  /** The current re-open follows a RESTART (not a lost stream). */
  private restarted = false;
  /** Leaves the acknowledgement stream the session is registered with. */
  private leaveAcks?: () => void;

  constructor(private readonly deps: StreamReattachDeps) {}

  /** The current stream's wrapper, once a stream was opened. */
  get resumable(): ResumableCall | undefined {
    return this.current;
  }

  /** Streams re-attached so far. */
  get count(): number {
    return this.reattached;
  }

  /** The re-open in progress (or that failed) follows a RESTART. */
  get afterRestart(): boolean {
    return this.restarted;
  }

  /** Wrap a new Data call: re-openable after a RESTART, after a loss only with resume agreed. */
  wrap(call: grpc.ClientDuplexStream<DataMessage, DataMessage>): ResumableCall {
    const resume = this.deps.resume;
    const resumable = new ResumableCall(
      { call, abort: () => call.cancel() },
      {
        clock: this.deps.clock,
        limitBytes: resume?.limitBytes ?? 0,
        onLost: (error) => this.streamLost(error),
        holdOnRestart: () => this.deps.mayHold(),
        onRestarted: () => {
          this.restarted = true;
          this.deps.logger.info("RESTART completed: re-opening the session on a new Data stream");
          this.reopen(RESTART_REOPEN_WINDOW_MS);
        },
      },
    );
    if (!resume) resumable.disable();
    this.current = resumable;
    return resumable;
  }

  /** Acknowledge over the connection the session's stream runs on (resume agreed). */
  joinAcks(channel: PooledChannel): void {
    this.leave();
    if (this.current && this.deps.acks) {
      this.leaveAcks = this.deps.acks.register(channel.client, this.deps.sessionId, this.current);
    }
  }

  /** Leave the acknowledgement stream (the session ended or moves). */
  leave(): void {
    this.leaveAcks?.();
    this.leaveAcks = undefined;
  }

  /** Stop a re-open in progress (the relay ended). */
  cancel(): void {
    this.resuming?.cancel();
    this.resuming = undefined;
  }

  /** The current stream was lost: try to re-attach the session before anything else. */
  private streamLost(error: Error): void {
    const resume = this.deps.resume;
    // A bridged session's new far end in its handshake is not resumed either: the relay ends
    // and the bridge dials a new stream.
    if (!resume || !this.deps.relaying() || this.deps.farEndHandshaking()) {
      this.current?.fail(error);
      return;
    }
    this.deps.logger.warn("Data stream lost: resuming the session", { error: errorMessage(error) });
    this.reopen(resume.windowMs);
  }

  /**
   * The session has no stream (lost, or a RESTART completed): dial new ones with the same
   * session-id and the counters as they stand until the gateway re-attaches it or `windowMs`
   * passed; then the relay ends as without re-attach (bridging or a close).
   */
  private reopen(windowMs: number): void {
    this.deps.onDetached();
    this.leave();
    const { pool, clock, logger, readGate } = this.deps;
    this.resuming = new SessionResume({
      resumable: this.current as ResumableCall,
      pool,
      clock,
      logger,
      windowMs,
      ...(readGate ? { readGate } : {}),
      pairs: (counters) => this.deps.pairs(counters),
      onResumed: (channel, call, md) => {
        this.resuming = undefined;
        this.reattached++;
        this.restarted = false;
        if (readResumeAnswer(metadataReader(md)) === "resumed") this.joinAcks(channel);
        this.deps.onResumed(channel, call, md);
      },
    });
    this.resuming.attempt();
  }
}
