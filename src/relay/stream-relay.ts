import type { Duplex } from "node:stream";
import { DataAction, type DataMessage } from "../proto/messages.ts";

/**
 * Relays one TCP session between a byte stream (a router socket on the agent, a daemon
 * socket or the collector on the gateway) and a gRPC Data call (DataRequest/DataResponse
 * messages), in order, both ways, with bounded buffering:
 *
 * - socket → call: a chunk read while no message is on its way to the HTTP/2 stream is sent
 *   at once, as one message (no added latency on an idle session); chunks read while one is
 *   outstanding are coalesced and go as one message (up to COALESCE_LIMIT bytes) when it
 *   completes. Bytes handed to the relay but not yet accepted by the HTTP/2 stream are
 *   counted, and the socket is paused while they reach `highWaterMark` (resumed at half).
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
 * `socket.end()`. KILL from the peer aborts the socket (RST). An error on either side
 * aborts the other, sending KILL first when the call can still carry it.
 */
export const DEFAULT_RELAY_HIGH_WATER_MARK = 256 * 1024;
/** Largest message made of coalesced chunks (grpc-js accepts 4 MiB by default). */
export const COALESCE_LIMIT = 1024 * 1024;

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
  /** Sees every chunk in each direction, unchanged (the gateway's BGP observer). */
  tap?: { fromSocket(chunk: Uint8Array): void; toSocket(chunk: Uint8Array): void };
  /** Messages already exchanged on earlier streams of the same session (resume). */
  initialCounters?: { sent: number; received: number };
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

interface ResettableSocket extends Duplex {
  resetAndDestroy?: () => void;
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
  private callPausedForSocket = false;
  private socketEnded = false;
  private callEnded = false;
  private finished = false;
  private graceTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly socket: ResettableSocket,
    private readonly call: MessageStream,
    private readonly options: RelayOptions,
  ) {
    this.highWaterMark = options.highWaterMark ?? DEFAULT_RELAY_HIGH_WATER_MARK;
    this.counters = {
      messagesSent: options.initialCounters?.sent ?? 0,
      messagesReceived: options.initialCounters?.received ?? 0,
      bytesFromSocket: 0,
      bytesToSocket: 0,
    };
  }

  /** Bytes held in user space for this session right now (both directions). */
  get bufferedBytes(): number {
    return this.inFlight + (this.socket.writableLength ?? 0);
  }

  /** Start moving bytes; the socket may have been paused until now. */
  start(): void {
    const { socket, call } = this;
    socket.on("data", (chunk: Buffer) => this.fromSocket(chunk));
    socket.on("end", () => {
      this.socketEnded = true;
      this.endCallAfterSocketEnd();
      this.maybeFinished();
    });
    socket.on("error", (err: Error) => this.fail("socket-error", err));
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

  /** Abort both sides now: KILL to the peer, RST to the socket. */
  abort(reason: RelayEndReason = "aborted", error?: Error): void {
    if (this.finished) return;
    this.sendKill();
    this.resetSocket();
    this.finish(reason, error);
  }

  private fromSocket(chunk: Buffer): void {
    if (this.finished) return;
    const length = chunk.length;
    this.counters.bytesFromSocket += length;
    this.options.tap?.fromSocket(chunk);
    this.inFlight += length;
    this.pending.push(chunk);
    this.pendingBytes += length;
    if (this.writesOutstanding === 0 || this.pendingBytes >= COALESCE_LIMIT) this.flush();
    if (this.inFlight >= this.highWaterMark && !this.socketPausedForCall) {
      this.socketPausedForCall = true;
      this.socket.pause();
    }
  }

  /** Send the pending chunks as one message. */
  private flush(): void {
    const data = this.pending;
    const bytes = this.pendingBytes;
    if (data.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    this.counters.messagesSent++;
    this.writesOutstanding++;
    this.call.write({ action: DataAction.UNSPECIFIED, data } satisfies DataMessage, () => {
      this.writesOutstanding--;
      this.inFlight -= bytes;
      if (this.finished) return;
      if (this.writesOutstanding === 0) this.flush();
      if (this.socketPausedForCall && this.inFlight <= this.highWaterMark / 2) {
        this.socketPausedForCall = false;
        this.socket.resume();
      }
    });
  }

  private fromCall(msg: DataMessage): void {
    if (this.finished) return;
    this.counters.messagesReceived++;
    switch (msg.action) {
      case DataAction.KILL:
        this.resetSocket();
        this.finish("killed");
        this.options.abortCall();
        return;
      case DataAction.RESTART:
        // Resuming on a new stream is not implemented yet: end the session cleanly.
        this.socket.end();
        this.call.end();
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
    const grace = this.options.socketEndGraceMs;
    if (grace === undefined || this.callEnded) {
      this.endCall();
      return;
    }
    this.graceTimer = setTimeout(() => this.endCall(), grace);
  }

  private endCall(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    if (this.finished || this.call.writableEnded) return;
    this.flush();
    this.call.end();
  }

  private sendKill(): void {
    const call = this.call;
    if (call.writableEnded || call.destroyed) return;
    try {
      call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
      call.end();
    } catch {
      // the call is already gone: nothing to tell the peer
    }
  }

  private resetSocket(): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
    else socket.destroy();
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
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.options.onEnd(reason, error);
  }
}
