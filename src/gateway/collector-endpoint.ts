import { Duplex } from "node:stream";
import { BgpSpeaker } from "../collector/bgp-speaker.ts";
import type { CollectorConfig } from "../config/types.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionEvents } from "./device-tracker.ts";

/**
 * The built-in collector as the far end of a relayed session: a byte stream (what the
 * relay expects of a daemon socket) around a passive BGP speaker. Bytes from the router are
 * fed to the speaker; what it sends (OPEN, KEEPALIVE, NOTIFICATION) is read by the relay.
 * The speaker's state and counts are reported to the session's `SessionEvents`.
 */
class CollectorEndpoint extends Duplex {
  private readonly speaker: BgpSpeaker;

  constructor(
    private readonly events: SessionEvents,
    collector: CollectorConfig,
    clock: Clock,
    logger: Logger,
  ) {
    super({ allowHalfOpen: true });
    this.speaker = new BgpSpeaker({
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

  /** The router's side ended (FIN through the relay): the session is over. */
  override _final(callback: (error?: Error | null) => void): void {
    this.speaker.close("the router closed the session");
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.speaker.close("session aborted");
    this.settle();
    callback(error);
  }

  /** No BGP session, no routes: this session's prefixes no longer count. */
  private settle(): void {
    this.events.state(false);
  }
}

export function openCollector(
  events: SessionEvents,
  collector: CollectorConfig,
  clock: Clock,
  logger: Logger,
): Duplex {
  return new CollectorEndpoint(
    events,
    collector,
    clock,
    logger.child({ component: "gateway/collector" }),
  );
}
