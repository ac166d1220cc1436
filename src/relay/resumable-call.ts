import { EventEmitter } from "node:events";
import type { Clock, TimerHandle } from "../core/clock.ts";
import { DataAction, type DataMessage } from "../proto/messages.ts";
import { fullCount } from "../proto/resume-service.ts";
import { planResume, ReplayBuffer, ReplayError, type SessionCounters } from "./replay-buffer.ts";
import type { MessageStream } from "./stream-relay.ts";

/**
 * A session's Data stream that outlives the gRPC call carrying it: the StreamRelay of a
 * session writes to and reads from this object, which passes messages to the current call.
 * Two things move a session to a new call:
 *
 * - a lost call (a transport error, a cancelled stream — not a KILL or an ended stream),
 *   when resume was agreed (`resumable`): the owner is told (`onLost`);
 * - a completed graceful RESTART exchange (wire contract, "Graceful RESTART"), started by
 *   either side (`restart()` here, or the peer's RESTART), when the owner holds the session
 *   for a re-open (`holdOnRestart` answers true): the owner is told (`onRestarted`).
 *
 * Meanwhile the relay and its socket stay as they are: writes are queued, unsent and
 * uncounted, with their callbacks held (so the relay's own back-pressure pauses the socket).
 * The owner then attaches a new call of the same session (`attach`, after the counters are
 * reconciled: the messages the peer lacks are sent again from the replay buffer, then the
 * queued ones) or gives up (`fail`: the relay ends with a call error, as without resume).
 *
 * Listeners go on the call at once: make it only when the relay that reads it starts.
 *
 * Counting (docs/wire-protocol.md, "Resume"): data messages only (action UNSPECIFIED with
 * at least one chunk); KILL and RESTART are not counted. Acknowledgements do not travel in
 * the Data messages: the owner gives an `ackSink` (bgproxy.v1.ResumeService), which gets this
 * side's received count when `ackEveryMessages` messages or `ackEveryBytes` bytes came in
 * since the last one, and at every attach; the peer's acknowledgements come in through
 * `acknowledge`. So the peer's replay buffer holds about one acknowledgement interval plus
 * what is in flight. A session without acknowledgements uses a replay limit of 0: it cannot
 * resume a lost call, but a completed RESTART (nothing in flight) still re-attaches.
 */
export interface ResumableCallOptions {
  /** Runs the RESTART answer timeout and a server call's end settling. */
  clock: Clock;
  /** Replay buffer bound (bytes); past it a lost call can no longer be resumed. */
  limitBytes: number;
  ackEveryMessages?: number;
  ackEveryBytes?: number;
  /** The current call was lost and the session could resume: attach a new call or fail. */
  onLost(error: Error): void;
  /**
   * A RESTART exchange is completing: true = the owner re-opens (agent) or holds (gateway)
   * the session, which is then detached; false or absent = the RESTART goes to the relay and
   * the session ends as without re-attach.
   */
  holdOnRestart?(): boolean;
  /** The RESTART exchange completed and the session is detached: attach a new call or fail. */
  onRestarted?(): void;
  /** How long a RESTART this side sent waits for the peer's before the call counts as lost. */
  restartAnswerMs?: number;
}

/** The gRPC call underneath (client or server duplex stream). */
export interface CallPort {
  call: MessageStream;
  /** Ends the call abruptly (client: cancel; server: end with an error status). */
  abort(): void;
  /** Server calls: the agent's stream was cut ('cancelled' event). */
  onCancelled?(listener: () => void): void;
  /**
   * Server calls: how long the readable side's end waits before it counts as the peer's
   * half-close. A cut stream's end comes first (measured under Bun: about 1 ms before
   * 'cancelled'), and must not be passed on as the router's FIN.
   */
  endSettleMs?: number;
  /**
   * Server calls: `call.end()` ends the whole RPC, so a RESTART this side starts is not
   * followed by a half-close (the peer's answer must still come in); the call ends after it.
   */
  server?: boolean;
}

export const DEFAULT_ACK_EVERY_MESSAGES = 16;
export const DEFAULT_RESTART_ANSWER_MS = 10_000;

type State = "attached" | "restarting" | "detached" | "final";

interface Queued {
  message: DataMessage;
  callback?: (error?: Error | null) => void;
}

export class ResumableCall extends EventEmitter implements MessageStream {
  readonly replay: ReplayBuffer;
  private port?: CallPort;
  private state: State = "attached";
  private receivedCount = 0;
  private acked = 0;
  private bytesSinceAck = 0;
  private queue: Queued[] = [];
  private endRequested = false;
  private paused = false;
  /** A lost call may be resumed (not once `disable`d: the peer does not resume). */
  private lossResumable = true;
  /** This side half-closed the current call for its RESTART. */
  private halfClosed = false;
  /** The current call's readable side ended (the peer half-closed, or the call was cut). */
  private peerEnded = false;
  /** This side sent RESTART on the current call (a second one from the relay is dropped). */
  private restartSent = false;
  private answerTimer?: TimerHandle;
  private ackSink?: (received: number) => void;
  private readonly ackEveryMessages: number;
  private readonly ackEveryBytes: number;

  constructor(
    first: CallPort,
    private readonly options: ResumableCallOptions,
  ) {
    super();
    this.replay = new ReplayBuffer(options.limitBytes);
    this.ackEveryMessages = options.ackEveryMessages ?? DEFAULT_ACK_EVERY_MESSAGES;
    this.ackEveryBytes = options.ackEveryBytes ?? Math.max(1, Math.floor(options.limitBytes / 8));
    this.bind(first);
  }

  /** This side's counters: data messages sent and received in the session. */
  get counters(): SessionCounters {
    return { sent: this.replay.sent, received: this.receivedCount };
  }

  /** True while no call carries the session (between a loss or RESTART and `attach`/`fail`). */
  get detached(): boolean {
    return this.state === "detached";
  }

  /** True while a RESTART this side sent waits for the peer's. */
  get restarting(): boolean {
    return this.state === "restarting";
  }

  /** Whether a loss now could be resumed (nothing final happened, the buffer held). */
  get resumable(): boolean {
    return this.lossResumable && this.state !== "final" && !this.replay.overflowed;
  }

  get writableEnded(): boolean {
    return this.endRequested;
  }

  get destroyed(): boolean {
    // While detached there is no call to carry a KILL: the relay's abort skips it.
    return this.state === "detached" || (this.port?.call.destroyed ?? true);
  }

  /**
   * Where this side's received count goes (bgproxy.v1.ResumeService); undefined = none. The
   * current count is sent at once.
   */
  setAckSink(sink: ((received: number) => void) | undefined): void {
    this.ackSink = sink;
    if (sink && this.receivedCount > 0) this.sendAck();
  }

  /** The peer's acknowledgement: it received `low` (mod 2^32) of our data messages. */
  acknowledge(low: number): void {
    if (this.state === "final") return;
    const error = this.replay.acknowledge(fullCount(low, this.replay.sent));
    if (error) {
      this.state = "final";
      this.emit("error", error);
    }
  }

  write(message: DataMessage, callback?: (error?: Error | null) => void): boolean {
    const action = message.action;
    const data = message.data;
    if (action === DataAction.UNSPECIFIED) {
      if (this.state === "restarting" || this.state === "detached") {
        this.queue.push(callback ? { message, callback } : { message });
        return true;
      }
      if (data.length > 0) this.record(data);
    } else {
      if (this.state === "detached") return true; // no call to carry it
      if (action === DataAction.RESTART && this.restartSent) return true;
      this.state = "final";
      this.clearAnswerTimer();
    }
    return (this.port as CallPort).call.write(message, callback);
  }

  end(): void {
    this.endRequested = true;
    if (this.state === "attached" || this.state === "final") this.port?.call.end();
  }

  pause(): void {
    this.paused = true;
    this.port?.call.pause();
  }

  resume(): void {
    this.paused = false;
    this.port?.call.resume();
  }

  /** Ends the current call abruptly (the relay's abortCall). */
  abort(): void {
    this.state = "final";
    this.clearAnswerTimer();
    this.port?.abort();
  }

  /**
   * Start a graceful RESTART: stop sending data (later writes are queued), send RESTART,
   * half-close (client calls) and wait for the peer's RESTART. False when the session is
   * not on a call (detached, restarting or ending).
   */
  restart(): boolean {
    // After either side's half-close (a FIN passed on) no RESTART exchange can complete.
    if (this.state !== "attached" || !this.port || this.endRequested || this.peerEnded) {
      return false;
    }
    const port = this.port;
    this.state = "restarting";
    this.restartSent = true;
    port.call.write({ action: DataAction.RESTART, data: [] } satisfies DataMessage);
    if (!port.server) {
      port.call.end();
      this.halfClosed = true;
    }
    const ms = this.options.restartAnswerMs ?? DEFAULT_RESTART_ANSWER_MS;
    this.answerTimer = this.options.clock.schedule(ms, () => {
      if (this.state !== "restarting" || this.port !== port) return;
      port.abort();
      this.lost(new Error(`no RESTART answer within ${ms} ms`));
    });
    return true;
  }

  /**
   * Continue the session on `next`, whose peer reported `peer` (its counters). Returns the
   * reason when the counters do not fit: the caller then KILLs `next` and calls `fail`.
   */
  attach(next: CallPort, peer: SessionCounters): ReplayError | undefined {
    if (this.state !== "detached") throw new Error("attach: the session is not detached");
    const replay = planResume(this.replay, this.receivedCount, peer);
    if (replay instanceof ReplayError) return replay;
    this.bind(next);
    this.state = "attached";
    this.restartSent = false;
    this.peerEnded = false;
    this.halfClosed = false;
    for (const data of replay) {
      next.call.write({ action: DataAction.UNSPECIFIED, data, joined: data.length > 1 });
    }
    for (const { message, callback } of this.queue.splice(0)) this.write(message, callback);
    if (this.ackSink) this.sendAck();
    if (this.paused) next.call.pause();
    if (this.endRequested) next.call.end();
    return undefined;
  }

  /**
   * The peer re-opened the session while this side still holds the old call (it has not
   * noticed the loss yet): drop the old call now; `attach` follows.
   */
  detach(): void {
    if (this.state !== "attached" && this.state !== "restarting") return;
    this.clearAnswerTimer();
    this.state = "detached";
    this.port?.abort();
  }

  /** The peer does not resume: from now on a lost call ends the relay as without resume. */
  disable(): void {
    this.lossResumable = false;
    this.ackSink = undefined;
  }

  /** Give up: the relay sees the call error it would have seen without resume. */
  fail(error: Error): void {
    if (this.state !== "detached") return;
    this.state = "final";
    this.queue = [];
    this.emit("error", error);
  }

  private record(data: Uint8Array[]): void {
    let bytes = 0;
    for (let i = 0; i < data.length; i++) bytes += (data[i] as Uint8Array).length;
    this.replay.record(data, bytes);
  }

  private sendAck(): void {
    this.acked = this.receivedCount;
    this.bytesSinceAck = 0;
    this.ackSink?.(this.receivedCount % 2 ** 32);
  }

  private clearAnswerTimer(): void {
    this.answerTimer?.cancel();
    this.answerTimer = undefined;
  }

  private bind(port: CallPort): void {
    const previous = this.port;
    this.port = port;
    // Events of an earlier call are ignored (`current`); a late error of it is not ours.
    if (previous && previous !== port) previous.call.on("error", () => {});
    const { call } = port;
    const current = () => this.port === port && this.state !== "detached";
    call.on("data", (message: DataMessage) => {
      if (current()) this.fromCall(message);
    });
    call.on("end", () => {
      if (!current()) return;
      this.peerEnded = true;
      if (this.state === "restarting") {
        // The peer half-closed instead of answering: it cannot send RESTART any more.
        if (!port.server) {
          this.lost(new Error("the peer ended the stream instead of answering RESTART"));
          return;
        }
        this.cancelRestart();
      }
      const settle = port.endSettleMs;
      if (settle === undefined) this.emit("end");
      else this.options.clock.schedule(settle, () => current() && this.emit("end"));
    });
    call.on("close", () => {
      if (current()) this.emit("close");
    });
    call.on("error", (error: Error) => {
      if (current()) this.lost(error);
    });
    port.onCancelled?.(() => {
      if (current()) this.lost(new Error("the Data stream was cancelled"));
    });
  }

  private lost(error: Error): void {
    this.clearAnswerTimer();
    if (!this.resumable) {
      this.state = "final";
      this.emit("error", error);
      return;
    }
    this.state = "detached";
    this.options.onLost(error);
  }

  /** A RESTART that crossed the peer's half-close is void: go on on the same call. */
  private cancelRestart(): void {
    this.clearAnswerTimer();
    this.state = "attached";
    this.restartSent = false;
    for (const { message, callback } of this.queue.splice(0)) this.write(message, callback);
    if (this.endRequested) this.port?.call.end();
  }

  private fromCall(message: DataMessage): void {
    const action = message.action;
    if (action === DataAction.RESTART) {
      if (this.restartCompletes()) return;
      // This side half-closed already (a FIN crossed the peer's RESTART): it cannot answer;
      // the peer sees the half-close and goes on. Not passed on: the session is not over.
      if (this.endRequested && !this.restartSent && this.state === "attached") return;
    }
    if (action === DataAction.UNSPECIFIED) {
      const data = message.data;
      if (data.length > 0) {
        this.receivedCount++;
        for (let i = 0; i < data.length; i++) this.bytesSinceAck += (data[i] as Uint8Array).length;
      }
    } else {
      this.clearAnswerTimer();
      this.state = "final";
    }
    this.emit("data", message);
    if (
      this.ackSink &&
      this.state !== "final" &&
      (this.receivedCount - this.acked >= this.ackEveryMessages ||
        this.bytesSinceAck >= this.ackEveryBytes)
    ) {
      this.sendAck();
    }
  }

  /**
   * The peer's RESTART (its own, or its answer to ours): when the owner holds the session,
   * answer if we did not start it, close the call and detach. False: the relay handles it.
   */
  private restartCompletes(): boolean {
    if (this.state !== "attached" && this.state !== "restarting") return false;
    if (this.endRequested || !this.options.holdOnRestart?.()) return false;
    const port = this.port as CallPort;
    this.clearAnswerTimer();
    if (!this.restartSent) {
      this.restartSent = true;
      port.call.write({ action: DataAction.RESTART, data: [] } satisfies DataMessage);
    }
    if (!this.halfClosed) port.call.end();
    this.state = "detached";
    this.options.onRestarted?.();
    this.emit("restarted");
    return true;
  }
}
