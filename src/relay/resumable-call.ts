import { EventEmitter } from "node:events";
import { DataAction, type DataMessage } from "../proto/messages.ts";
import { planResume, ReplayBuffer, ReplayError, type SessionCounters } from "./replay-buffer.ts";
import type { MessageStream } from "./stream-relay.ts";

/**
 * A session's Data stream that outlives the gRPC call carrying it: the StreamRelay of a
 * session writes to and reads from this object, which passes messages to the current call
 * and, when that call is lost (a transport error, a cancelled stream — not a KILL, a
 * RESTART or an ended stream), holds on: the relay and its socket stay as they are, writes
 * are kept in the replay buffer with their callbacks held (so the relay's own back-pressure
 * pauses the socket), and the owner is told (`onLost`). The owner then either attaches a
 * new call of the same session (`attach`, after the counters are reconciled: the messages
 * the peer lacks are sent again, the held callbacks complete) or gives up (`fail`: the
 * relay ends with a call error, as it would have without resume).
 *
 * Listeners go on the call at once: make it only when the relay that reads it starts.
 *
 * Counting (docs/wire-protocol.md, "Resume"): data messages only (action UNSPECIFIED with
 * at least one chunk); KILL, RESTART and acknowledgement-only messages are not counted.
 * Acknowledgements: every message written carries `received` (the count of data messages
 * received so far, mod 2^32) when it changed; when `ackEveryMessages` messages or
 * `ackEveryBytes` bytes came in without a message going back, an acknowledgement-only
 * message is sent. So the peer's replay buffer holds about one acknowledgement interval
 * plus what is in flight.
 */
export interface ResumableCallOptions {
  /** Replay buffer bound (bytes); past it the session can no longer be resumed. */
  limitBytes: number;
  ackEveryMessages?: number;
  ackEveryBytes?: number;
  /** The current call was lost and the session could resume: attach a new call or fail. */
  onLost(error: Error): void;
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
}

export const DEFAULT_ACK_EVERY_MESSAGES = 16;

type State = "attached" | "detached" | "final";

const TWO_32 = 2 ** 32;

export class ResumableCall extends EventEmitter implements MessageStream {
  readonly replay: ReplayBuffer;
  private port?: CallPort;
  private state: State = "attached";
  private receivedCount = 0;
  private acked = 0;
  private bytesSinceAck = 0;
  private held: Array<() => void> = [];
  private endRequested = false;
  private paused = false;
  /** Whether the peer takes acknowledgements (field 3): not once `disable`d. */
  private acking = true;
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

  /** True while no call carries the session (between a loss and `attach` or `fail`). */
  get detached(): boolean {
    return this.state === "detached";
  }

  /** Whether a loss now could be resumed (nothing final happened, the buffer held). */
  get resumable(): boolean {
    return this.state !== "final" && !this.replay.overflowed;
  }

  get writableEnded(): boolean {
    return this.endRequested;
  }

  get destroyed(): boolean {
    // While detached there is no call to carry a KILL: the relay's abort skips it.
    return this.state === "detached" || (this.port?.call.destroyed ?? true);
  }

  write(message: DataMessage, callback?: (error?: Error | null) => void): boolean {
    const data = message.data;
    if (message.action === DataAction.UNSPECIFIED && data.length > 0) {
      let bytes = 0;
      for (let i = 0; i < data.length; i++) bytes += (data[i] as Uint8Array).length;
      this.replay.record(data, bytes);
    } else if (message.action !== DataAction.UNSPECIFIED) {
      this.state = this.state === "detached" ? "detached" : "final";
    }
    if (this.state === "detached") {
      if (callback) this.held.push(() => callback());
      return true;
    }
    if (this.acking && this.receivedCount !== this.acked) this.stampAck(message);
    return (this.port as CallPort).call.write(message, callback);
  }

  end(): void {
    this.endRequested = true;
    if (this.state !== "detached") this.port?.call.end();
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
    this.port?.abort();
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
    this.acked = -1; // the next message (or the first replayed) carries the count
    for (const data of replay) this.write_({ action: DataAction.UNSPECIFIED, data });
    if (replay.length === 0 && this.receivedCount > 0) this.sendAck();
    for (const done of this.held.splice(0)) done();
    if (this.paused) next.call.pause();
    if (this.endRequested) next.call.end();
    return undefined;
  }

  /**
   * The peer re-opened the session while this side still holds the old call (it has not
   * noticed the loss yet): drop the old call now; `attach` follows.
   */
  detach(): void {
    if (this.state !== "attached") return;
    this.state = "detached";
    this.port?.abort();
  }

  /** The peer does not resume: from now on a lost call ends the relay as without resume. */
  disable(): void {
    this.acking = false;
    if (this.state === "attached") this.state = "final";
  }

  /** Give up resuming: the relay sees the call error it would have seen without resume. */
  fail(error: Error): void {
    if (this.state !== "detached") return;
    this.state = "final";
    this.held = [];
    this.emit("error", error);
  }

  private write_(message: DataMessage): void {
    this.stampAck(message);
    (this.port as CallPort).call.write(message);
  }

  private stampAck(message: DataMessage): void {
    this.acked = this.receivedCount;
    this.bytesSinceAck = 0;
    const low = this.receivedCount % TWO_32;
    if (low !== 0) message.received = low;
  }

  private sendAck(): void {
    const message: DataMessage = { action: DataAction.UNSPECIFIED, data: [] };
    this.stampAck(message);
    (this.port as CallPort).call.write(message);
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
      const settle = port.endSettleMs;
      if (settle === undefined) this.emit("end");
      else setTimeout(() => current() && this.emit("end"), settle);
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
    if (!this.resumable) {
      this.state = "final";
      this.emit("error", error);
      return;
    }
    this.state = "detached";
    this.options.onLost(error);
  }

  private fromCall(message: DataMessage): void {
    const ack = message.received;
    if (ack !== undefined) {
      const sent = this.replay.sent;
      // The full count from its low 32 bits: the largest count <= sent with those bits.
      const full = sent - ((((sent - ack) % TWO_32) + TWO_32) % TWO_32);
      const error = this.replay.acknowledge(full);
      if (error) {
        this.state = "final";
        this.emit("error", error);
        return;
      }
    }
    const data = message.data;
    if (message.action === DataAction.UNSPECIFIED) {
      if (data.length === 0) return; // an acknowledgement only
      this.receivedCount++;
      for (let i = 0; i < data.length; i++) this.bytesSinceAck += (data[i] as Uint8Array).length;
    } else this.state = "final";
    this.emit("data", message);
    if (
      this.acking &&
      this.state === "attached" &&
      (this.receivedCount - this.acked >= this.ackEveryMessages ||
        this.bytesSinceAck >= this.ackEveryBytes)
    ) {
      this.sendAck();
    }
  }
}
