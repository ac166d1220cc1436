import { connect, type Socket } from "node:net";
import type { BmpStationConfig } from "../config/types.ts";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "../core/backoff.ts";
import type { Clock, TimerHandle } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

/**
 * One BMP station (RFC 7854 §3.2: the router — here the gateway — connects to it). States:
 *
 *   connecting -> up            the TCP connection is open: `snapshot()` (Initiation, a Peer
 *                               Up and the current RIB per session) is written first, a
 *                               chunk per event-loop turn and only while the socket drains,
 *                               with live messages queued meanwhile; then live messages
 *   connecting | up -> waiting  connection failed or lost: live messages are dropped (the
 *                               next snapshot carries their effect), redial after a backoff
 *   any -> stopped              `stop()` (a Termination message is sent when up)
 *
 * Buffering is bounded: when more than `bufferBytes` of live messages wait (queued behind
 * the snapshot, or unsent in the socket), the connection is dropped and the station
 * re-synchronised from a new snapshot after reconnecting.
 */
export type StationState = "connecting" | "up" | "waiting" | "stopped";

export interface StationDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Everything a station needs after connecting, in order, as chunks pulled one by one. */
  readonly snapshot: () => Iterator<Uint8Array>;
  readonly termination: () => Uint8Array;
  readonly backoff?: BackoffOptions;
  /** Connections must stay up this long for the backoff to reset. */
  readonly stableMs?: number;
}

export class BmpStation {
  private state: StationState = "waiting";
  private socket: Socket | undefined;
  private timer: TimerHandle | undefined;
  private readonly backoff: Backoff;
  private limit = 0;
  private upSince = 0;
  /** The snapshot being written, and the live messages waiting behind it. */
  private syncing: Iterator<Uint8Array> | undefined;
  private queue: Uint8Array[] = [];
  private queued = 0;
  /** Messages written to the station (since start) and dropped while it was down. */
  sent = 0;
  dropped = 0;
  connects = 0;

  constructor(
    private readonly config: BmpStationConfig,
    private readonly deps: StationDeps,
  ) {
    this.backoff = new Backoff(deps.backoff ?? DEFAULT_BACKOFF);
  }

  get status(): StationState {
    return this.state;
  }

  start(): void {
    this.dial();
  }

  /** A live message: written when up, dropped otherwise. */
  send(message: Uint8Array): void {
    const socket = this.socket;
    if (this.state !== "up" || !socket) {
      this.dropped++;
      return;
    }
    if (this.syncing) {
      this.queue.push(message);
      this.queued += message.length;
      if (this.queued > this.config.bufferBytes) {
        this.lost(`more than ${this.config.bufferBytes} bytes of live messages behind the resync`);
      }
      return;
    }
    socket.write(message);
    this.sent++;
    if (socket.writableLength > this.limit) {
      this.lost(`more than ${this.config.bufferBytes} bytes waiting for the station`);
    }
  }

  stop(): void {
    if (this.state === "stopped") return;
    const socket = this.socket;
    const wasUp = this.state === "up";
    this.transition("stopped");
    this.timer?.cancel();
    this.endSync();
    if (socket) {
      if (wasUp) socket.end(this.deps.termination());
      else socket.destroy();
    }
  }

  private where(): string {
    const { host, port } = this.config.address;
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  }

  private transition(to: StationState): void {
    if (this.state === to) return;
    this.deps.logger.debug(`BMP station ${this.state} -> ${to}`, { station: this.where() });
    this.state = to;
  }

  private dial(): void {
    if (this.state === "stopped") return;
    this.transition("connecting");
    const socket = connect({ host: this.config.address.host, port: this.config.address.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("connect", () => {
      if (this.socket !== socket || this.state !== "connecting") return;
      this.connects++;
      this.upSince = this.deps.clock.now();
      this.transition("up");
      this.deps.logger.info("BMP station connected", { station: this.where() });
      this.syncing = this.deps.snapshot();
      this.resync(socket, 0);
    });
    socket.on("drain", () => {
      if (this.socket === socket) this.limit = this.config.bufferBytes;
    });
    socket.on("error", (err) => this.lost(errorMessage(err), socket));
    socket.on("close", () => this.lost("connection closed", socket));
    socket.on("data", () => {}); // stations send nothing we use (RFC 7854 §3.3)
  }

  /** Write the snapshot a turn at a time (about 1 MiB), pausing while the socket is full. */
  private resync(socket: Socket, written: number): void {
    const it = this.syncing;
    if (!it || this.socket !== socket || this.state !== "up") return;
    let bytes = written;
    for (let turn = 0; turn < 1 << 20; ) {
      const r = it.next();
      if (r.done) {
        this.syncing = undefined;
        for (const m of this.queue) socket.write(m);
        this.sent += this.queue.length;
        this.queue = [];
        this.queued = 0;
        this.limit = socket.writableLength + this.config.bufferBytes;
        this.deps.logger.info("BMP station synchronised", { station: this.where(), bytes });
        return;
      }
      socket.write(r.value);
      this.sent++;
      turn += r.value.length;
      bytes += r.value.length;
    }
    if (socket.writableLength > 4 << 20) socket.once("drain", () => this.resync(socket, bytes));
    else setImmediate(() => this.resync(socket, bytes));
  }

  /** Abandon a resync in progress (its snapshot is released). */
  private endSync(): void {
    this.syncing?.return?.();
    this.syncing = undefined;
    this.queue = [];
    this.queued = 0;
  }

  private lost(why: string, which: Socket | undefined = this.socket): void {
    if (which !== this.socket || this.state === "stopped" || this.state === "waiting") return;
    this.endSync();
    const wasUp = this.state === "up";
    this.socket?.destroy();
    this.socket = undefined;
    if (wasUp && this.deps.clock.now() - this.upSince >= (this.deps.stableMs ?? 60_000)) {
      this.backoff.reset();
    }
    const delay = this.backoff.next();
    this.transition("waiting");
    this.deps.logger.warn(wasUp ? "BMP station lost" : "BMP station unreachable", {
      station: this.where(),
      error: why,
      retry_ms: delay,
    });
    this.timer = this.deps.clock.schedule(delay, () => this.dial());
  }
}
