import { decodeOpen } from "../bgp/open.ts";
import type { DecodedUpdate } from "../bgp/update.ts";
import { AdjRibIn } from "../collector/adj-rib-in.ts";
import { RibSnapshot } from "../collector/rib-snapshot.ts";
import type { BmpStationConfig } from "../config/types.ts";
import { canonicalIp } from "../core/address.ts";
import type { BackoffOptions } from "../core/backoff.ts";
import type { Clock, TimerHandle } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import {
  type BmpPeer,
  encodeInitiation,
  encodePeerDown,
  encodePeerUp,
  encodeRouteMonitoring,
  encodeStatistics,
  encodeTermination,
  PeerDownReason,
  type PeerUpInput,
} from "./bmp-message.ts";
import { BmpStation } from "./bmp-station.ts";
import { ribUpdates } from "./rib-updates.ts";

/**
 * The gateway's BMP feed: what the routers' sessions do, as BMP, to every configured
 * station. A session (collector or forwarded, through the observer) reports to its
 * `SessionMonitor`; the feed turns that into Peer Up (both OPENs), Route Monitoring (the
 * router's UPDATEs as received: pre-policy Adj-RIB-In), Peer Down, and a Statistics Report
 * per session every `statsIntervalMs`. A station that (re)connects gets Initiation, then
 * each live session's Peer Up and current Adj-RIB-In, then End-of-RIB.
 */
export interface SessionMonitor {
  /** Both OPENs exchanged and confirmed. `sentOpen` is the collector's or the daemon's. */
  up(opens: { receivedOpen: Uint8Array; sentOpen: Uint8Array; fourOctetAs: boolean }): void;
  /** One UPDATE from the router (the whole message) and its decoding. */
  update(message: Uint8Array, decoded: DecodedUpdate): void;
  /** The BGP session ended: who sent the NOTIFICATION (whole message), if any. */
  down(reason: { local: boolean; notification?: Uint8Array }): void;
}

/** Where a session runs: the router's address and port, and the address it connected to. */
export interface MonitoredSession {
  readonly device: string;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The session's own Adj-RIB-In (the collector's); without one the feed keeps one. */
  readonly rib?: AdjRibIn;
}

export interface BmpFeedOptions {
  readonly stations: readonly BmpStationConfig[];
  readonly sysName: string;
  readonly sysDescr: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly statsIntervalMs?: number;
  /** Redial delays (tests shorten them). */
  readonly backoff?: BackoffOptions;
}

interface LiveSession {
  readonly peer: BmpPeer;
  readonly up: PeerUpInput;
  readonly rib: AdjRibIn;
}

const EMPTY = new Uint8Array(0);

export class BmpFeed {
  readonly stations: BmpStation[];
  private readonly live = new Set<LiveSession>();
  private statsTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: BmpFeedOptions) {
    this.stations = options.stations.map(
      (config) =>
        new BmpStation(config, {
          clock: options.clock,
          logger: options.logger,
          snapshot: () => this.snapshot(),
          termination: encodeTermination,
          ...(options.backoff ? { backoff: options.backoff } : {}),
        }),
    );
  }

  start(): void {
    for (const s of this.stations) s.start();
    this.armStats();
  }

  stop(): void {
    this.stopped = true;
    this.statsTimer?.cancel();
    for (const s of this.stations) s.stop();
  }

  /** The monitor for one session. */
  session(where: MonitoredSession): SessionMonitor {
    const ip = (text: string) => canonicalIp(text) ?? "0.0.0.0";
    const peerAddress = ip(where.peerAddress);
    const localAddress = ip(where.localAddress);
    let current: LiveSession | undefined;
    const ownRib = where.rib ? undefined : new AdjRibIn();
    return {
      up: (opens) => {
        const open = decodeOpen(opens.receivedOpen.subarray(19));
        const peer: BmpPeer = {
          address: peerAddress,
          asn: open.asn,
          routerId: open.routerId,
          legacyAsPath: !opens.fourOctetAs,
        };
        const up: PeerUpInput = {
          localAddress,
          localPort: where.localPort,
          remotePort: where.peerPort,
          sentOpen: opens.sentOpen,
          receivedOpen: opens.receivedOpen,
        };
        current = { peer, up, rib: where.rib ?? (ownRib as AdjRibIn) };
        this.live.add(current);
        this.broadcast(encodePeerUp(peer, this.now(), up));
      },
      update: (message, decoded) => {
        if (!current) return;
        ownRib?.apply(decoded);
        this.broadcast(encodeRouteMonitoring(current.peer, this.now(), message));
      },
      down: (reason) => {
        if (!current) return;
        this.live.delete(current);
        const code = reason.notification
          ? reason.local
            ? PeerDownReason.LOCAL_NOTIFICATION
            : PeerDownReason.REMOTE_NOTIFICATION
          : reason.local
            ? PeerDownReason.LOCAL_NO_NOTIFICATION
            : PeerDownReason.REMOTE_NO_NOTIFICATION;
        const data =
          reason.notification ??
          (code === PeerDownReason.LOCAL_NO_NOTIFICATION ? Uint8Array.of(0, 0) : EMPTY);
        this.broadcast(encodePeerDown(current.peer, this.now(), code, data));
        current = undefined;
        ownRib?.clear();
      },
    };
  }

  private now(): number {
    return this.options.clock.now();
  }

  private broadcast(message: Uint8Array): void {
    for (const s of this.stations) s.send(message);
  }

  /**
   * Initiation, then each live session's Peer Up and table, in ~256 KiB chunks. The RIBs
   * are snapshotted when the first chunk is pulled (the station does that as it connects),
   * so live messages queued after it apply on top; a session that ends meanwhile stops
   * its replay (its Peer Down is among the live messages).
   */
  private *snapshot(): Generator<Uint8Array> {
    const now = this.now();
    const sessions = [...this.live].map((s) => ({ s, snap: new RibSnapshot(s.rib) }));
    let parts: Uint8Array[] = [];
    let pending = 0;
    const take = (): Uint8Array => {
      const chunk = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, pending);
      parts = [];
      pending = 0;
      return chunk;
    };
    const add = (m: Uint8Array) => {
      parts.push(m);
      pending += m.length;
    };
    try {
      add(encodeInitiation(this.options.sysName, this.options.sysDescr));
      for (const { s, snap } of sessions) {
        add(encodePeerUp(s.peer, now, s.up));
        // The replayed table is in 4-octet AS form whatever the session uses.
        const peer = { ...s.peer, legacyAsPath: false };
        for (const u of ribUpdates(snap)) {
          add(encodeRouteMonitoring(peer, now, u));
          if (pending >= 256 * 1024) yield take();
        }
        snap.release();
      }
      if (pending > 0) yield take();
    } finally {
      for (const { snap } of sessions) snap.release();
    }
  }

  private armStats(): void {
    if (this.stopped) return;
    this.statsTimer = this.options.clock.schedule(this.options.statsIntervalMs ?? 60_000, () => {
      const now = this.now();
      for (const s of this.live) this.broadcast(encodeStatistics(s.peer, now, s.rib.counts));
      this.armStats();
    });
  }
}
