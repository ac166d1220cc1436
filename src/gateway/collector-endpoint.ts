import { Duplex } from "node:stream";
import { BgpSpeaker } from "../collector/bgp-speaker.ts";
import type { CollectorConfig } from "../config/types.ts";
import { systemClock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { ClosingCause, SessionInfo } from "./data-service.ts";
import type { DeviceRuntime } from "./device-registry.ts";

/**
 * The built-in collector as the far end of a relayed session: a byte stream (what the
 * relay expects of a daemon socket) around a passive BGP speaker. Bytes from the router are
 * fed to the speaker; what it sends (OPEN, KEEPALIVE, NOTIFICATION) is read by the relay.
 * The device's state and counters follow the speaker.
 */
export class CollectorEndpoint extends Duplex implements ClosingCause {
  private readonly speaker: BgpSpeaker;
  /** Why the router side ends when the relay ends it: the router's FIN unless told otherwise. */
  private closeCause = "the router closed the session";
  /** The speaker's UPDATE count already added to the device's. */
  private updatesSeen = 0;

  constructor(
    private readonly device: DeviceRuntime,
    collector: CollectorConfig,
    logger: Logger,
  ) {
    super({ allowHalfOpen: true });
    this.speaker = new BgpSpeaker({
      localAsn: collector.asn,
      routerId: collector.routerId,
      holdTime: collector.holdTime,
      clock: systemClock,
      logger,
      onSend: (bytes) => this.push(bytes),
      onStateChange: (_from, to) => {
        device.established = to === "Established";
        device.lastChange = Date.now();
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
  }

  override _read(): void {}

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.speaker.receive(chunk);
    const s = this.speaker.stats();
    this.device.counters.updates += s.updates - this.updatesSeen;
    this.updatesSeen = s.updates;
    this.device.counters.prefixes.ipv4 = s.prefixes.ipv4;
    this.device.counters.prefixes.ipv6 = s.prefixes.ipv6;
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

  /** No session, no routes: the device's prefix counts go back to zero. */
  private settle(): void {
    this.device.established = false;
    this.device.counters.prefixes.ipv4 = 0;
    this.device.counters.prefixes.ipv6 = 0;
  }
}

export function openCollector(
  device: DeviceRuntime,
  collector: CollectorConfig,
  _session: SessionInfo,
  logger: Logger,
): CollectorEndpoint {
  return new CollectorEndpoint(device, collector, logger.child({ component: "gateway/collector" }));
}
