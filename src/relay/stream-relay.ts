import { type Clock, monotonicClock, type TimerHandle } from "../core/clock.ts";
import { DataAction, type DataMessage } from "../proto/messages.ts";
import { type ReadAheadWatch, readOneChunkAhead } from "./read-ahead-watch.ts";
import { ReadPacer } from "./read-pacer.ts";
import { endSocketWithin, type ResettableSocket, resetSocket } from "./socket-end.ts";

/**
 * Relays one TCP session between a byte stream (a router socket on the agent, a daemon
 * socket or the collector on the gateway) and a gRPC Data call (DataRequest/DataResponse
 * messages), in order, both ways, with bounded buffering:
 *
 * - socket → call: a chunk read while no message is on its way to the HTTP/2 stream is sent
 *   at once, as one message (no added latency on an idle session); chunks read while one is
 *   outstanding are coalesced and go as one message when it completes (one data field of up
 *   to COALESCE_LIMIT bytes, which the encoder fills from the chunks: one copy). Bytes handed
 *   to the relay but not yet accepted by the HTTP/2 stream are counted, and the socket is
 *   paused while they reach `highWaterMark` (resumed at half).
 * - read pacing (`ReadPacer`, src/relay/read-pacer.ts): a small read soon after the previous
 *   message or read means the peer is streaming small writes; the socket is then paused for a
 *   few ms, so that the kernel gathers what comes meanwhile and the next read (and message) is
 *   large. Each read costs a callback, a Buffer and a gRPC message, whatever its size. Chunks
 *   already waiting in the socket's readable buffer are never held (`backlogWaits`), and the
 *   socket reads at most one chunk ahead of the relay (`readOneChunkAhead`: under Bun a hold
 *   stops its reads only so).
 * - call → socket: while the socket's unsent bytes reach `highWaterMark`, the call is
 *   paused, so grpc-js stops reading the HTTP/2 stream and its flow-control window closes
 *   on the sender.
 *
 * Per session and direction at most `highWaterMark` plus one chunk plus one HTTP/2 window
 * is buffered in user space. A chunk is one socket read: up to 64 KiB under Node, but up to
 * 512 KiB under Bun 1.4 on Linux (measured), so `bufferedBytes` can reach about
 * `highWaterMark` + 512 KiB.
 *
 * FIN travels as a half-close: the socket's end → `call.end()`; the call's end →
 * `socket.end()`. KILL from the peer aborts the socket (RST; a FIN first with `killEndGraceMs`).
 * An error on either side aborts the other, sending KILL (after any coalesced bytes) first when
 * the call can still carry it — except a socket error after the socket's FIN, which ends the
 * call as that FIN does (`socketFailed`).
 */
export const DEFAULT_RELAY_HIGH_WATER_MARK = 256 * 1024;
/** Largest message made of coalesced chunks (grpc-js accepts 4 MiB by default). */
export const COALESCE_LIMIT = 1024 * 1024;

/**
 * Whether chunks already read from the kernel wait in the socket's readable buffer. Bun 1.4
 * keeps reading a TCP socket natively for a while after `pause()` and queues every read as
 * its own chunk (one per BGP UPDATE that arrived: ~80 bytes from BIRD), up to several MB
 * while the relay paces; `resume()` then hands them over one "data" event at a time. Pacing
 * such a chunk (small, soon after the previous message) let through one or two chunks per
 * PACE_HOLD_MS while MBs waited behind them (DEVELOPERS.md, "Data path: convergence,
 * session 6"); the relay now takes the whole backlog at once and paces only real reads.
 */
function backlogWaits(socket: { readableLength?: number }, upstream?: () => number): boolean {
  return (socket.readableLength ?? 0) > 0 || (upstream !== undefined && upstream() > 0);
}

export type RelayEndReason =
  | "closed" // both directions finished normally
  | "killed" // the peer sent DATA_ACTION_KILL
  | "restart" // the peer asked for a graceful restart (not resumed yet: the session ends)
  | "socket-error"
  | "call-error"
  | "aborted"; // abort() was called locally

export interface RelayCounters {
  /** DataMessages written to the call (counter-up on the agent, counter-down on the gateway). */
  messagesSent: number;
  /** DataMessages read from the call. */
  messagesReceived: number;
  bytesFromSocket: number;
  bytesToSocket: number;
  /** Reads ("data" events) taken from the socket: with `messagesSent`, the cost driver under load. */
  socketReads: number;
}

export interface RelayOptions {
  highWaterMark?: number;
  /** Called once, when both sides are done or one was aborted. */
  onEnd: (reason: RelayEndReason, error?: Error) => void;
  /** Ends the call abruptly (client: cancel; server: end with an error status). */
  abortCall: () => void;
  /**
   * Server side only: gRPC cannot half-close a server's sending side without ending the
   * RPC, which would cut off bytes still coming from the agent. When set, the socket's FIN
   * ends the call only once the agent has half-closed too, or after this many ms.
   */
  socketEndGraceMs?: number;
  /** When set, the peer's KILL ends the socket gracefully (socket-end.ts) within this many ms. */
  killEndGraceMs?: number;
  /** Sees every chunk in each direction, unchanged (the gateway's BGP observer). */
  tap?: { fromSocket(chunk: Uint8Array): void; toSocket(chunk: Uint8Array): void };
  /** Messages already exchanged on earlier streams of the same session (resume). */
  initialCounters?: { sent: number; received: number };
  /**
   * Time for read pacing and the relay's timers (default monotonicClock: pacing compares
   * sub-millisecond gaps, so now() must not be Date.now()).
   */
  clock?: Clock;
  /** Counts (and warns once about) sockets whose read-ahead could not be limited. */
  readAhead?: ReadAheadWatch;
  /**
   * Bytes already read that wait before `socket` (the router's readable buffer when the
   * socket is a session bridge's port): a backlog, never held by read pacing.
   */
  upstreamBacklog?: () => number;
}

/** The side of a gRPC Data call the relay uses (client and server duplex streams both fit). */
export interface MessageStream {
  write(message: DataMessage, callback?: (error?: Error | null) => void): boolean;
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  on(event: "data", listener: (message: DataMessage) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}

export class StreamRelay {
  readonly counters: RelayCounters;
  private readonly highWaterMark: number;
  private inFlight = 0;
  /** Chunks read while a message was outstanding, to go as the next message. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private writesOutstanding = 0;
  private socketPausedForCall = false;
  /** The socket is paused by read pacing until this timer fires. */
  private paceTimer?: TimerHandle;
  private readonly pacer = new ReadPacer();
  private socketPaused = false;
  private callPausedForSocket = false;
  private socketEnded = false;
  private callEnded = false;
  private finished = false;
  private restarting = false;
  private graceTimer?: TimerHandle;
  private readonly clock: Clock;

  constructor(
    private readonly socket: ResettableSocket,
    private readonly call: MessageStream,
    private readonly options: RelayOptions,
  ) {
    this.highWaterMark = options.highWaterMark ?? DEFAULT_RELAY_HIGH_WATER_MARK;
    this.clock = options.clock ?? monotonicClock;
    this.counters = {
      messagesSent: options.initialCounters?.sent ?? 0,
      messagesReceived: options.initialCounters?.received ?? 0,
      bytesFromSocket: 0,
      bytesToSocket: 0,
      socketReads: 0,
    };
  }

  /** Bytes held in user space for this session right now (both directions). */
  get bufferedBytes(): number {
    return this.inFlight + (this.socket.writableLength ?? 0);
  }

  /** Start moving bytes; the socket may have been paused until now. */
  start(): void {
    const { socket, call } = this;
    const limited = readOneChunkAhead(socket);
    this.options.readAhead?.record(limited);
    socket.on("data", (chunk: Buffer) => this.fromSocket(chunk));
    socket.on("end", () => {
      this.socketEnded = true;
      this.endCallAfterSocketEnd();
      this.maybeFinished();
    });
    socket.on("error", (err: Error) => this.socketFailed(err));
    socket.on("close", () => {
      if (!this.socketEnded && !this.finished)
        this.fail("socket-error", new Error("socket closed"));
      else this.maybeFinished();
    });
    socket.on("drain", () => {
      if (this.callPausedForSocket) {
        this.callPausedForSocket = false;
        call.resume();
      }
    });

    call.on("data", (msg: DataMessage) => this.fromCall(msg));
    call.on("end", () => {
      this.callEnded = true;
      if (!this.finished) socket.end();
      if (this.socketEnded) this.endCall();
      this.maybeFinished();
    });
    call.on("error", (err: Error) => this.fail("call-error", err));
    // A finished RPC may not emit "end" on its readable side (the server sent its status):
    // "close" then stands for the end of the stream.
    call.on("close", () => {
      if (this.callEnded) return;
      this.callEnded = true;
      if (!this.finished) socket.end();
      this.maybeFinished();
    });

    socket.resume();
  }

  /**
   * Start a graceful RESTART (a draining gateway): stop passing the socket's bytes on and
   * send RESTART; the peer's RESTART (or the call's end) finishes the relay. The call is ended
   * then, not now: a gRPC server cannot half-close without ending the RPC, which would cut
   * off the peer's answer.
   */
  restart(): void {
    if (this.finished || this.restarting) return;
    // The socket keeps flowing (its end must still be seen); what it reads is dropped.
    this.sendRestart();
  }

  private sendRestart(): void {
    if (this.restarting) return;
    this.restarting = true;
    const call = this.call;
    if (call.writableEnded || call.destroyed) return;
    try {
      call.write({ action: DataAction.RESTART, data: [] } satisfies DataMessage);
    } catch {
      // the call is already gone
    }
  }

  /** Abort both sides now: KILL to the peer, RST to the socket. */
  abort(reason: RelayEndReason = "aborted", error?: Error): void {
    if (this.finished) return;
    this.sendKill();
    resetSocket(this.socket);
    this.finish(reason, error);
  }

  /**
   * The call's HTTP/2 stream closed. A grpc-js server reports every close of a call as
   * "cancelled", the RPC's normal end included. After this side ended the call (its status
   * sent, the socket's FIN passed on) the close is that end: the relay ends as "closed" once
   * the socket has taken its last writes, or within `graceMs` with the socket reset (a far end
   * that stopped reading). Before it, the peer cut the stream: abort (`error` says why).
   */
  streamClosed(error: Error, graceMs: number): void {
    if (this.finished) return;
    if (!this.call.writableEnded || !this.socketEnded) {
      this.abort("call-error", error);
      return;
    }
    if (!this.callEnded) {
      this.callEnded = true;
      this.socket.end();
    }
    this.maybeFinished();
    if (this.finished) return;
    this.graceTimer = this.clock.schedule(graceMs, () => {
      resetSocket(this.socket);
      this.finish("closed");
    });
  }

  private fromSocket(chunk: Buffer): void {
    if (this.finished || this.restarting) return;
    const length = chunk.length;
    this.counters.socketReads++;
    this.counters.bytesFromSocket += length;
    this.options.tap?.fromSocket(chunk);
    this.inFlight += length;
    this.pending.push(chunk);
    this.pendingBytes += length;
    const now = this.clock.now();
    // A chunk with more behind it in the socket's own buffer is a backlog, not a stream of
    // small writes: a hold would release it one chunk per hold (see `backlogWaits`).
    const hold = this.pacer.read(
      length,
      now,
      backlogWaits(this.socket, this.options.upstreamBacklog),
      this.paceTimer !== undefined,
    );
    if (this.writesOutstanding === 0 || this.pendingBytes >= COALESCE_LIMIT) this.flush(now);
    if (this.inFlight >= this.highWaterMark) this.socketPausedForCall = true;
    if (hold > 0) {
      this.paceTimer = this.clock.schedule(hold, () => {
        this.paceTimer = undefined;
        this.updateSocketFlow();
      });
    }
    this.updateSocketFlow();
  }

  /** The socket reads while neither back-pressure nor pacing holds it. */
  private updateSocketFlow(): void {
    const hold = this.socketPausedForCall || this.paceTimer !== undefined;
    if (hold === this.socketPaused || this.finished) return;
    this.socketPaused = hold;
    if (hold) this.socket.pause();
    else this.socket.resume();
  }

  /** Send the pending chunks as one message. */
  private flush(now = this.clock.now()): void {
    const pending = this.pending;
    const bytes = this.pendingBytes;
    if (pending.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    this.pacer.sent(now);
    this.counters.messagesSent++;
    this.writesOutstanding++;
    // One chunk per message on the wire (the far side then writes it to its socket in one
    // call): coalesced reads are joined by the encoder, copied once into the message.
    const message: DataMessage = {
      action: DataAction.UNSPECIFIED,
      data: pending,
      joined: pending.length > 1,
    };
    this.call.write(message, () => {
      this.writesOutstanding--;
      this.inFlight -= bytes;
      if (this.finished) return;
      if (this.writesOutstanding === 0) this.flush();
      if (this.socketPausedForCall && this.inFlight <= this.highWaterMark / 2) {
        this.socketPausedForCall = false;
        this.updateSocketFlow();
      }
    });
  }

  private fromCall(msg: DataMessage): void {
    if (this.finished) return;
    this.counters.messagesReceived++;
    switch (msg.action) {
      case DataAction.KILL:
        if (this.options.killEndGraceMs === undefined) resetSocket(this.socket);
        else {
          endSocketWithin(this.socket, this.options.killEndGraceMs, this.clock);
          this.socket.resume(); // its FIN is read (what it sends is dropped: finished)
        }
        this.finish("killed");
        this.options.abortCall();
        return;
      case DataAction.RESTART:
        // The wire contract's graceful RESTART: answer with ours (unless we started it),
        // half-close, and end this stream; the session goes on on a new stream (the agent's
        // bridging) or ends.
        this.sendRestart();
        this.endCall();
        this.socket.end();
        this.finish("restart");
        return;
      default:
        break;
    }
    for (const chunk of msg.data) {
      if (chunk.length === 0) continue;
      this.counters.bytesToSocket += chunk.length;
      this.options.tap?.toSocket(chunk);
      this.socket.write(chunk);
    }
    if (this.socket.writableLength >= this.highWaterMark && !this.callPausedForSocket) {
      this.callPausedForSocket = true;
      this.call.pause();
    }
  }

  private endCallAfterSocketEnd(): void {
    // A FIN read after the relay finished (the peer's KILL or RESTART, whose socket is still
    // read for its close) has no call left to end: no grace timer.
    if (this.finished) return;
    const grace = this.options.socketEndGraceMs;
    if (grace === undefined || this.callEnded) {
      this.endCall();
      return;
    }
    this.graceTimer = this.clock.schedule(grace, () => this.endCall());
  }

  private endCall(): void {
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
    if (this.finished || this.call.writableEnded) return;
    this.flush();
    this.call.end();
  }

  private sendKill(): void {
    const call = this.call;
    if (call.writableEnded || call.destroyed) return;
    try {
      // Bytes held back for coalescing (a write was outstanding) go first: they may be a
      // NOTIFICATION written just before the end (the agent's bridge dropping a far end).
      this.flush();
      call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
      call.end();
    } catch {
      // the call is already gone: nothing to tell the peer
    }
  }

  /**
   * A socket error after the peer's FIN (a late write to a daemon that closed: EPIPE, or its
   * RST) is the socket's close, not a reset: the far end's end goes on as the end of the
   * call, as a FIN does (the agent bridges on an ended stream, not on KILL).
   */
  private socketFailed(error: Error): void {
    if (!this.socketEnded) {
      this.fail("socket-error", error);
      return;
    }
    if (this.finished) return;
    this.endCall();
    this.finish("closed");
  }

  private fail(reason: RelayEndReason, error: Error): void {
    if (this.finished) return;
    if (reason === "socket-error") this.sendKill();
    else this.socket.destroy();
    this.finish(reason, error);
  }

  private maybeFinished(): void {
    if (this.socketEnded && this.callEnded && this.socket.writableFinished !== false) {
      this.finish("closed");
    } else if (this.socketEnded && this.callEnded) {
      this.socket.once("finish", () => this.finish("closed"));
    }
  }

  private finish(reason: RelayEndReason, error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.graceTimer?.cancel();
    if (this.paceTimer) {
      // Pacing must not leave the socket paused (its end or error must still be seen).
      this.paceTimer.cancel();
      this.paceTimer = undefined;
      if (this.socketPaused && !this.socketPausedForCall && !this.socket.destroyed)
        this.socket.resume();
    }
    this.options.onEnd(reason, error);
  }
}
