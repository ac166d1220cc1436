import type { BmpFeed, MonitoredSession } from "../bmp/bmp-feed.ts";
import type { AdjRibIn } from "../collector/adj-rib-in.ts";
import type { RibDirectory } from "../collector/rib-directory.ts";
import type { CollectorConfig } from "../config/types.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { type CollectorEndpoint, openCollector } from "./collector-endpoint.ts";
import type { OpenTarget, SessionInfo } from "./data-service.ts";
import type { DeviceRuntime } from "./device-registry.ts";
import { connectForward } from "./forward-target.ts";

/** How long a stop waits for collector sessions to carry their NOTIFICATION out. */
export const COLLECTOR_DRAIN_MS = 1_000;

/** A session as the BMP stations see it (the device's name, both ends' addresses). */
export function monitoredSession(device: DeviceRuntime, session: SessionInfo): MonitoredSession {
  return {
    device: device.config.name,
    peerAddress: session.deviceIp,
    peerPort: session.devicePort,
    localAddress: session.proxyIp,
    localPort: session.proxyPort,
  };
}

export interface SessionTargetsDeps {
  /** The collector's Adj-RIB-In per device. */
  ribs: RibDirectory;
  /** The BMP stations' feed, if any: collector sessions are monitored with their RIB. */
  bmp?: BmpFeed;
  /** The collector's settings as they stand now (a reload may change them). */
  collector: () => CollectorConfig;
  clock: Clock;
}

/**
 * The far ends the gateway opens for its sessions: a connection to a device's BGP daemon
 * (forward) or a session of the built-in collector. It keeps the collector's endpoints until
 * they close, so that a stop tells their routers why (Cease / Administrative Shutdown) before
 * the streams end.
 */
export class SessionTargets {
  private readonly collectors = new Set<CollectorEndpoint>();

  constructor(private readonly deps: SessionTargetsDeps) {}

  /** Opens the far end of a session (data-service.ts's OpenTarget). */
  readonly open: OpenTarget = (device, session, events, sessionLog) => {
    const target = device.config.target;
    if (target.kind === "forward") return connectForward(target.forward, target.source);
    const { ribs, bmp, clock } = this.deps;
    const home = {
      directory: ribs,
      device: device.config.name,
      address: device.config.ip,
      ...(bmp
        ? {
            monitorFor: (rib: AdjRibIn) =>
              bmp.session({ ...monitoredSession(device, session), rib }),
          }
        : {}),
    };
    const endpoint = openCollector(events, this.deps.collector(), clock, sessionLog, home);
    this.collectors.add(endpoint);
    endpoint.once("close", () => this.collectors.delete(endpoint));
    return Promise.resolve(endpoint);
  };

  /**
   * Sends every collector session's router a Cease with `message`; resolves once they all
   * closed, or after COLLECTOR_DRAIN_MS.
   */
  shutDownCollectors(message: string, log: Logger): Promise<void> {
    const open = this.collectors;
    if (open.size === 0) return Promise.resolve();
    log.info("notifying collector sessions", { sessions: open.size });
    for (const endpoint of open) endpoint.shutdown(message);
    return new Promise((resolve) => {
      if (open.size === 0) {
        resolve();
        return;
      }
      const timer = this.deps.clock.schedule(COLLECTOR_DRAIN_MS, resolve);
      for (const endpoint of open) {
        endpoint.once("close", () => {
          if (open.size > 0) return;
          timer.cancel();
          resolve();
        });
      }
    });
  }
}
