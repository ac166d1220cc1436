import { Duplex } from "node:stream";
import { AdjRibIn } from "../collector/adj-rib-in.ts";
import { BgpSpeaker } from "../collector/bgp-speaker.ts";
import type { RibDirectory } from "../collector/rib-directory.ts";
import type { CollectorConfig } from "../config/types.ts";
import { systemClock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionInfo } from "./data-service.ts";
import type { DeviceRuntime } from "./device-registry.ts";

/**
 * The built-in collector as the far end of a relayed session: a byte stream (what the
 * relay expects of a daemon socket) around a passive BGP speaker. Bytes from the router are
 * fed to the speaker; what it sends (OPEN, KEEPALIVE, NOTIFICATION) is read by the relay.
 * The device's state and counters follow the speaker.
 */
class CollectorEndpoint extends Duplex {
  private readonly speaker: BgpSpeaker;
  /** The speaker's UPDATE count already added to the device's. */
  private updatesSeen = 0;
  /** Unregisters this session's Adj-RIB-In from the directory. */
  private readonly detachRib: () => void;

  constructor(
    private readonly device: DeviceRuntime,
    collector: CollectorConfig,
    logger: Logger,
    ribs?: RibDirectory,
  ) {
    super({ allowHalfOpen: true });
    const rib = ribs ? new AdjRibIn() : undefined;
    this.speaker = new BgpSpeaker({
      ...(rib ? { rib } : {}),
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
    let establishedAt = 0;
    this.detachRib =
      ribs && rib
        ? ribs.attach({
            device: device.config.name,
            address: device.config.ip,
            rib,
            peer: () => {
              const s = this.speaker.stats();
              if (s.peerAsn === undefined || s.peerRouterId === undefined) return undefined;
              establishedAt ||= Math.floor((s.establishedAt ?? Date.now()) / 1000);
              return { asn: s.peerAsn, routerId: s.peerRouterId, establishedAt };
            },
          })
        : () => {};
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

  /** No session, no routes: the device's prefix counts go back to zero. */
  private settle(): void {
    this.detachRib?.();
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
  ribs?: RibDirectory,
): Duplex {
  return new CollectorEndpoint(
    device,
    collector,
    logger.child({ component: "gateway/collector" }),
    ribs,
  );
}
