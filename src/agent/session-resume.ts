import type * as grpc from "@grpc/grpc-js";
import type { Clock, TimerHandle } from "../core/clock.ts";
import { BgpProxyError, type ErrorKind, errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DataAction, type DataMessage } from "../proto/messages.ts";
import {
  type MetadataPairs,
  metadataReader,
  readCounters,
  readResumeAnswer,
} from "../proto/metadata.ts";
import { gateCallReads, type ReadGateWatch } from "../relay/http2-read-gate.ts";
import type { SessionCounters } from "../relay/replay-buffer.ts";
import type { ResumableCall } from "../relay/resumable-call.ts";
import { toMetadata } from "./call-metadata.ts";
import type { ChannelPool, PooledChannel } from "./channel-pool.ts";

/**
 * One re-open of a router session on the agent (docs/resilience.md): after its Data stream
 * was lost (resume) or a RESTART exchange completed, dial new Data streams with the same session-id and the counters as they stand
 * until the gateway re-attaches the session (`resume: resumed`), or answers that it does
 * not hold it, or `windowMs` has passed. Then the ResumableCall is attached or failed (the
 * relay then ends as it would have without resume: bridging or a close). The window is a
 * timer: an attempt still in progress when it ends (a dial that hangs, as in a partition)
 * is cancelled.
 */

/** Delay between resume attempts (doubling). */
export const RESUME_REDIAL_MS = { first: 100, max: 2_000 } as const;

export interface SessionResumeDeps {
  resumable: ResumableCall;
  pool: ChannelPool;
  clock: Clock;
  logger: Logger;
  windowMs: number;
  /** Counts calls the HTTP/2 read gate could not be put on. */
  readGate?: ReadGateWatch;
  /** The Data call's metadata with these counters and the resume offer. */
  pairs(counters: SessionCounters): MetadataPairs;
  /** The session goes on over `call` (already attached). */
  onResumed(
    channel: PooledChannel,
    call: grpc.ClientDuplexStream<DataMessage, DataMessage>,
    md: grpc.Metadata,
  ): void;
}

export class SessionResume {
  private readonly deadline: number;
  private delayMs = 0;
  private timer?: TimerHandle;
  private windowTimer?: TimerHandle;
  /** The attempt in progress: cancelled when the window ends before it is answered. */
  private dialling?: { call: grpc.ClientDuplexStream<DataMessage, DataMessage>; release(): void };
  private done = false;

  constructor(private readonly deps: SessionResumeDeps) {
    this.deadline = deps.clock.now() + deps.windowMs;
  }

  /** Stop trying (the session ended meanwhile). */
  cancel(): void {
    this.finish();
  }

  /** The window ended: cancel the attempt in progress and fall back. */
  private windowEnded(): void {
    if (!this.done) this.giveUp("transport", "the session could not be resumed in time");
  }

  attempt(): void {
    const { resumable, clock, logger } = this.deps;
    if (this.done) return;
    if (clock.now() >= this.deadline) {
      this.giveUp("transport", "the session could not be resumed in time");
      return;
    }
    this.windowTimer ??= clock.schedule(this.deadline - clock.now(), () => this.windowEnded());
    const counters = resumable.counters;
    const channel = this.deps.pool.acquire();
    const call = channel.client.data(toMetadata(this.deps.pairs(counters)));
    this.dialling = { call, release: () => channel.release() };
    let answered = false;
    call.on("metadata", (md: grpc.Metadata) => {
      if (answered || this.done) return;
      answered = true;
      this.dialling = undefined;
      if (!resumable.detached) {
        // The session ended meanwhile (an abort): nothing to re-attach.
        channel.release();
        call.cancel();
        this.cancel();
        return;
      }
      gateCallReads(call, this.deps.readGate, this.deps.clock);
      const read = metadataReader(md);
      const theirs = readCounters(read);
      // `resumed`: re-attached by a gateway that resumes; no answer: a gateway that follows
      // only the contract, whose counters must fit; `accepted`: it took a new session.
      const answer = readResumeAnswer(read);
      if (!theirs || answer === "accepted") {
        channel.release();
        call.cancel();
        this.giveUp("protocol", "the gateway does not hold the session");
        return;
      }
      // The gateway's counter-up = messages it received, counter-down = messages it sent.
      const error = resumable.attach(
        { call, abort: () => call.cancel() },
        { sent: theirs.down, received: theirs.up },
      );
      if (error) {
        // A gateway that does not hold the session answers 0/0 (and KILL): fall back.
        logger.warn("re-open refused: the counters do not match", { error: error.message });
        call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
        call.end();
        channel.release();
        this.giveUp("protocol", error.message);
        return;
      }
      this.done = true;
      this.windowTimer?.cancel();
      if (answer === undefined) resumable.disable(); // no acknowledgements, no loss resume
      logger.info("session resumed on a new Data stream", {
        "counter-up": counters.sent,
        "counter-down": counters.received,
      });
      this.deps.onResumed(channel, call, md);
    });
    call.on("error", (err: Error) => {
      if (answered || this.done) return;
      answered = true;
      this.dialling = undefined;
      channel.release();
      logger.debug("resume attempt failed", { error: errorMessage(err) });
      this.delayMs = Math.min(
        this.delayMs === 0 ? RESUME_REDIAL_MS.first : this.delayMs * 2,
        RESUME_REDIAL_MS.max,
      );
      this.timer = clock.schedule(this.delayMs, () => this.attempt());
    });
  }

  /** The session falls back (bridging or a close): resuming it will not be tried again. */
  private giveUp(kind: ErrorKind, why: string): void {
    this.finish(new BgpProxyError(kind, why, { retryable: false }));
  }

  /**
   * The one way an attempt is dropped (cancel, window ended, gave up): no more timers, the
   * attempt in progress released and cancelled; then, with a `failure`, the session falls
   * back (the ResumableCall fails with it).
   */
  private finish(failure?: BgpProxyError): void {
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.windowTimer?.cancel();
    this.windowTimer = undefined;
    const dialling = this.dialling;
    this.dialling = undefined;
    dialling?.release();
    dialling?.call.cancel();
    if (failure !== undefined) this.deps.resumable.fail(failure);
  }
}
