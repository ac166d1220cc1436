import { Duplex } from "node:stream";
import { AdjRibIn } from "../collector/adj-rib-in.ts";
import { BgpSpeaker } from "../collector/bgp-speaker.ts";
import type { RibDirectory } from "../collector/rib-directory.ts";
import type { SpeakerMonitor } from "../collector/speaker-options.ts";
import type { CollectorConfig } from "../config/types.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionEvents } from "./device-tracker.ts";
import type { ClosingCause } from "./relayed-session.ts";

/**
 * The built-in collector as the far end of a relayed session: a byte stream (what the
 * relay expects of a daemon socket) around a passive BGP speaker. Bytes from the router are
 * fed to the speaker; what it sends (OPEN, KEEPALIVE, NOTIFICATION) is read by the relay.
 * The speaker's state and counts are reported to the session's `SessionEvents`; with a
 * `RibHome`, the speaker keeps an Adj-RIB-In, listed in the directory while the session lasts.
 */
export interface RibHome {
  readonly directory: RibDirectory;
  readonly device: string;
  /** The router's address as the gateway knows the device. */
  readonly address: string;
  /** A BMP monitor for this session, fed from the speaker (when BMP is on). */
  readonly monitorFor?: (rib: AdjRibIn) => SpeakerMonitor;
}

export class CollectorEndpoint extends Duplex implements ClosingCause {
  private readonly speaker: BgpSpeaker;
  /** Why the router side ends when the relay ends it: the router's FIN unless told otherwise. */
  private closeCause = "the router closed the session";
  /** Unregisters this session's Adj-RIB-In from the directory. */
  private detachRib: () => void = () => {};

  constructor(
    private readonly events: SessionEvents,
    collector: CollectorConfig,
    clock: Clock,
    logger: Logger,
    home?: RibHome,
  ) {
    super({ allowHalfOpen: true });
    const rib = home ? new AdjRibIn() : undefined;
    this.speaker = new BgpSpeaker({
      ...(rib ? { rib } : {}),
      ...(rib && home?.monitorFor ? { monitor: home.monitorFor(rib) } : {}),
      localAsn: collector.asn,
      routerId: collector.routerId,
      holdTime: collector.holdTime,
      clock,
      logger,
      onSend: (bytes) => this.push(bytes),
      onStateChange: (_from, to) => {
        events.state(to === "Established");
        if (to === "Established") {
          const s = this.speaker.stats();
          logger.info("BGP session established", {
            peer_as: s.peerAsn,
            peer_router_id: s.peerRouterId,
            hold_time: s.holdTime,
          });
        }
      },
      onClose: (reason) => {
        logger.info(`BGP session closed: ${reason.message}`, { kind: reason.kind });
        this.settle();
        this.push(null);
      },
    });
    if (home && rib) this.detachRib = this.attachRib(home, rib);
  }

  private attachRib(home: RibHome, rib: AdjRibIn): () => void {
    let establishedAt = 0;
    return home.directory.attach({
      device: home.device,
      address: home.address,
      rib,
      peer: () => {
        const s = this.speaker.stats();
        if (s.peerAsn === undefined || s.peerRouterId === undefined) return undefined;
        establishedAt ||= Math.floor((s.establishedAt ?? 0) / 1000);
        return { asn: s.peerAsn, routerId: s.peerRouterId, establishedAt };
      },
    });
  }

  override _read(): void {}

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.speaker.receive(chunk);
    const s = this.speaker.stats();
    this.events.counts(s.updates, s.prefixes);
    callback();
  }

  /**
   * The router's side ended: a FIN through the relay, or a stream that was cut. grpc-js
   * ends a cut stream's readable side before it says "cancelled" (next tick), so the close
   * waits one turn of the event loop for closingBecause.
   */
  override _final(callback: (error?: Error | null) => void): void {
    setImmediate(() => {
      this.speaker.close(this.closeCause);
      callback();
    });
  }

  closingBecause(cause: string): void {
    this.closeCause = cause;
  }

  /**
   * A graceful stop: Cease / Administrative Shutdown with `message` as the RFC 8203
   * shutdown communication, then the end of the stream (the relay carries both).
   */
  shutdown(message: string): void {
    this.closeCause = message;
    this.speaker.shutdown(message);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.speaker.close("session aborted");
    this.settle();
    callback(error);
  }

  /** No BGP session, no routes: this session's prefixes no longer count. */
  private settle(): void {
    this.detachRib();
    this.events.state(false);
  }
}

export function openCollector(
  events: SessionEvents,
  collector: CollectorConfig,
  clock: Clock,
  logger: Logger,
  home?: RibHome,
): CollectorEndpoint {
  return new CollectorEndpoint(
    events,
    collector,
    clock,
    logger.child({ component: "gateway/collector" }),
    home,
  );
}
