import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { Clock, TimerHandle } from "../../core/clock.ts";
import { readOneChunkAhead } from "../../relay/read-ahead-watch.ts";
import { endSocketWithin, resetSocket } from "../../relay/socket-end.ts";
import type { RelayEndReason } from "../../relay/stream-relay.ts";
import { BgpBridge } from "./bgp-bridge.ts";
import {
  type BridgeAction,
  type BridgeOptions,
  type BridgeState,
  DEFAULT_BRIDGE_OPTIONS,
  isBridgingState,
} from "./bridge-state.ts";

/**
 * The I/O edge of BGP-aware bridging for one router connection on the agent. It owns the
 * router socket and a BgpBridge; the relay of each Data stream gets a `FarEndPort` as its
 * "socket" instead of the router socket. Every chunk goes through the bridge, which passes
 * it on unchanged while the far end is there. When the relay of a stream ends, the owner
 * calls `farEndLost(reason)`: a deliberate end (KILL, local abort, the router's own error
 * or close) ends the router's connection as a plain relay would; a lost far end (stream
 * error, RESTART, the far end's FIN) is bridged when the bridge can, and the owner then
 * opens a new Data stream and relays it through `attach()`.
 */
export interface SessionBridgeEvents {
  /** The bridge moved between states (for the log). */
  onState?(from: BridgeState, to: BridgeState, reason: string): void;
  /** Something the bridge did that is worth a log line (a stalled far end covered). */
  onNote?(reason: string): void;
  /** The router's connection was closed by the bridge (after any NOTIFICATION). */
  onRouterClosed(reason: string): void;
}

/**
 * How long the bytes written to the router (a NOTIFICATION, the far end's last messages) may
 * take to flush after our FIN before the connection is destroyed.
 */
export const ROUTER_CLOSE_GRACE_MS = 3_000;

/**
 * How long a far end the bridge drops waits for its relay to read what was pushed to it last
 * (a NOTIFICATION; the relay may be pausing its reads) before it is destroyed anyway.
 */
export const FAR_END_DROP_GRACE_MS = 1_000;

/** Reasons a relay ends that mean the far end is gone rather than the session ended. */
const FAR_END_LOST: ReadonlySet<RelayEndReason> = new Set(["call-error", "restart", "closed"]);

export class SessionBridge {
  readonly bridge: BgpBridge;
  private port?: FarEndPort;
  private timer?: TimerHandle;
  /** When `timer` fires. */
  private timerAt = 0;
  private routerDone = false;
  /** The bridge ended the router's connection (NOTIFICATION, FIN, reset after a grace). */
  private routerClosing = false;
  /** The bridge dropped the current stream's far end itself (`closeFarEnd`). */
  private dropped = false;
  /** The router sent its FIN. */
  private routerEnded = false;
  private started = false;

  constructor(
    private readonly router: Socket,
    private readonly clock: Clock,
    private readonly events: SessionBridgeEvents,
    options: BridgeOptions = DEFAULT_BRIDGE_OPTIONS,
  ) {
    this.bridge = new BgpBridge(options);
    this.routerReadAheadLimited = readOneChunkAhead(router);
  }

  /**
   * Whether the router's socket reads at most one chunk ahead (set as the bridge takes it
   * over): the bridge pauses it whenever the relay holds its port (back-pressure, read
   * pacing), and under Bun such a pause stops the native reads only once one chunk waits
   * (`readOneChunkAhead`, src/relay/read-ahead-watch.ts). Without it the router's socket
   * went on reading while the relay paced, out of the port's sight, and each 8 ms hold let
   * one or two ~1,500-byte segments through (DEVELOPERS.md, "Data path: convergence,
   * session 7").
   */
  readonly routerReadAheadLimited: boolean;

  /** Starts reading the router (with the first port in place, so no byte is lost). */
  private start(): void {
    if (this.started) return;
    this.started = true;
    const router = this.router;
    router.on("data", (chunk: Buffer) => this.fromRouter(chunk));
    router.on("end", () => this.routerFinished());
    router.on("close", () => this.routerGone());
    router.on("error", (err: Error) => this.routerGone(err));
  }

  /** True while the router's session is kept up without a far end. */
  get bridging(): boolean {
    return isBridgingState(this.bridge.state);
  }

  /** The "socket" for a new Data stream's relay. After a loss, the router's OPEN goes first. */
  attach(): Duplex {
    this.port?.detach();
    const port = new FarEndPort(this);
    this.port = port;
    this.dropped = false;
    if (this.bridge.state === "bridging") this.apply(this.bridge.farEndAttached(this.clock.now()));
    this.start();
    return port;
  }

  /**
   * The current stream's relay ended for `reason`. Returns true when the router's session
   * is kept up (bridging: open a new stream and `attach()`); otherwise the router's
   * connection has been ended as a plain relay would have.
   */
  farEndLost(reason: RelayEndReason, why: string): boolean {
    this.port?.detach();
    this.port = undefined;
    const dropped = this.dropped;
    this.dropped = false;
    // Already closing (closeRouter): its NOTIFICATION is flushed before the FIN, not cut.
    if (this.routerDone || this.routerClosing) return false;
    // A far end the bridge dropped itself (its handshake went wrong) was destroyed under its
    // relay, which says "socket-error": that is a lost far end too, not the router's error.
    // So is a KILL where the bridge says it is a loss (`killIsLoss`: in a new far end's
    // handshake, or after the far end stalled, or just after a stalled far end's bytes passed
    // again): the router's session is the bridge's to keep.
    const now = this.clock.now();
    const lost =
      FAR_END_LOST.has(reason) ||
      (dropped && reason === "socket-error") ||
      (reason === "killed" && this.bridge.killIsLoss(now));
    if (lost && this.bridge.state !== "closed" && !this.routerEnded) {
      this.apply(this.bridge.farEndLost(now, `${reason}: ${why}`, reason === "restart"));
      if (this.bridging) {
        this.router.resume();
        return true;
      }
      return false;
    }
    // The owner ends the session itself: the bridge only closes (no event back).
    this.bridge.routerClosed(`${reason}: ${why}`);
    this.timer?.cancel();
    if (reason === "killed" || reason === "aborted") resetSocket(this.router);
    // The far end ended too (after the router's FIN): its last bytes go before our FIN.
    else if (reason === "closed" || reason === "restart") this.endRouter();
    else this.router.destroy();
    return false;
  }

  /** Bytes the relay writes towards the router (from the far end). */
  fromFarEnd(port: FarEndPort, chunk: Uint8Array): void {
    if (port !== this.port) return;
    // A session the bridge let go of (NOTIFICATION, unreadable bytes) is relayed as it is.
    if (this.bridge.state === "closed") this.writeRouter(chunk);
    else this.apply(this.bridge.fromFarEnd(chunk, this.clock.now()));
  }

  /** Calls `done` once the router socket can take more (flow control towards the router). */
  whenRouterWritable(done: () => void): void {
    if (this.routerDone || !this.router.writableNeedDrain) done();
    else this.router.once("drain", done);
  }

  private fromRouter(chunk: Buffer): void {
    if (this.bridge.state === "closed") this.toPort(chunk);
    else this.apply(this.bridge.fromRouter(chunk, this.clock.now()));
  }

  private toPort(bytes: Uint8Array): void {
    if (this.port && !this.port.push(bytes)) this.router.pause();
  }

  private writeRouter(bytes: Uint8Array): void {
    if (!this.routerDone && this.router.writable) this.router.write(bytes);
  }

  /** The far end half-closed its side (a daemon's FIN): a loss to bridge, or a FIN to pass. */
  farEndFinished(port: FarEndPort): void {
    if (port !== this.port || this.routerDone) return;
    if (this.bridge.finIsLoss) {
      // The relay finishes once its socket ends too; the owner then calls farEndLost.
      port.push(null);
      return;
    }
    // Passed on as the router's FIN — after whatever the relay's end brings first (a
    // RESTART's Cease is written by farEndLost, which follows in the same turn).
    setImmediate(() => {
      if (!this.routerDone) this.router.end();
    });
  }

  /** Bytes the router's socket has read that wait before the port (a backlog for pacing). */
  get routerBacklog(): number {
    return this.router.readableLength;
  }

  resumeRouter(): void {
    if (!this.routerDone) this.router.resume();
  }

  /** The router's FIN: passed on to the far end, or the end of a bridged session. */
  private routerFinished(): void {
    this.routerEnded = true;
    if (this.bridging) this.apply(this.bridge.routerClosed("the router closed its side"));
    else this.port?.push(null);
  }

  /** The router's connection closed or failed: a relay passes that on as KILL. */
  private routerGone(error?: Error): void {
    if (this.routerDone) return;
    const wasBridging = this.bridging;
    this.routerDone = true;
    this.timer?.cancel();
    this.bridge.routerClosed("the router's connection is gone");
    if (error || !this.routerEnded) {
      this.port?.destroy(error ?? new Error("the router's connection closed"));
    }
    if (wasBridging) this.events.onRouterClosed("the router's connection is gone");
  }

  private apply(actions: readonly BridgeAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "toFarEnd":
          this.toPort(a.bytes);
          break;
        case "toRouter":
          this.writeRouter(a.bytes);
          break;
        case "closeRouter":
          this.closeRouter(a.reason);
          break;
        case "closeFarEnd":
          if (this.port) this.dropPort(this.port);
          this.port = undefined;
          this.dropped = true;
          break;
        case "state":
          this.events.onState?.(a.from, a.to, a.reason);
          break;
        case "note":
          this.events.onNote?.(a.reason);
          break;
      }
    }
    this.schedule();
  }

  private closeRouter(reason: string): void {
    if (this.routerDone || this.routerClosing) return;
    this.routerClosing = true;
    // Whatever was written (a NOTIFICATION) is flushed before the FIN.
    this.endRouter();
    this.events.onRouterClosed(reason);
  }

  /** A far end the bridge drops: after its relay read the last bytes, or the grace. */
  private dropPort(port: FarEndPort): void {
    port.dropAfterRead();
    if (port.destroyed) return;
    const timer = this.clock.schedule(FAR_END_DROP_GRACE_MS, () => port.destroy());
    port.once("close", () => timer.cancel());
  }

  /** A FIN after the bytes written to the router; destroyed if it hangs (the grace). */
  private endRouter(): void {
    endSocketWithin(this.router, ROUTER_CLOSE_GRACE_MS, this.clock);
  }

  /**
   * A timer for the bridge's next deadline. Relaying moves the deadline later with every
   * far-end chunk: a timer already due no later is kept (its tick finds nothing to do and
   * schedules again), so the hot path costs a comparison, not a timer per chunk.
   */
  private schedule(): void {
    const at = this.bridge.nextDeadline();
    if (at === undefined || this.routerDone) {
      this.timer?.cancel();
      this.timer = undefined;
      return;
    }
    if (this.timer && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.schedule(Math.max(0, at - this.clock.now()), () => {
      this.timer = undefined;
      this.apply(this.bridge.tick(this.clock.now()));
    });
  }
}

/**
 * The socket a relay sees for one Data stream: its readable side carries what the bridge
 * passes from the router, its writable side takes what the far end sends. Destroying it
 * never touches the router connection: the SessionBridge decides that.
 */
export class FarEndPort extends Duplex {
  private attached = true;

  constructor(private readonly owner: SessionBridge) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024 });
  }

  /** This port no longer belongs to the session's current stream. */
  detach(): void {
    this.attached = false;
  }

  /**
   * The bridge drops this far end: destroyed (its relay then kills the stream) once the relay
   * has read what the bridge pushed last (a NOTIFICATION), which a relay pausing its reads
   * (pacing) has not yet done; a destroy now would discard it.
   */
  dropAfterRead(): void {
    this.detach();
    const destroyWhenRead = () => {
      if (this.readableLength === 0) this.destroy();
    };
    destroyWhenRead();
    // A "data" listener does not resume a paused stream; it runs after the relay's own.
    if (!this.destroyed) this.on("data", destroyWhenRead);
  }

  override _read(): void {
    if (this.attached) this.owner.resumeRouter();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (!this.attached) {
      callback();
      return;
    }
    this.owner.fromFarEnd(this, chunk);
    this.owner.whenRouterWritable(() => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.attached) this.owner.farEndFinished(this);
    callback();
  }
}
