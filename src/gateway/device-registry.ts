import type { DeviceConfig } from "../config/types.ts";
import { normalizeIp } from "../core/address.ts";

/**
 * The devices the gateway knows, looked up by (site, address), and each one's live state:
 * how many sessions it has and what its BGP session shows.
 */
export type DeviceState = "idle" | "connected" | "established";

export interface DeviceBgpCounters {
  updates: number;
  prefixes: { ipv4: number; ipv6: number };
}

export interface DeviceRuntime {
  readonly config: DeviceConfig;
  sessions: number;
  sessionsTotal: number;
  /** BGP state and counters of the device's current session, when something parses it. */
  established: boolean;
  counters: DeviceBgpCounters;
  lastChange: number;
}

function newRuntime(config: DeviceConfig, now: number): DeviceRuntime {
  return {
    config: { ...config, ip: normalizeIp(config.ip) },
    sessions: 0,
    sessionsTotal: 0,
    established: false,
    counters: { updates: 0, prefixes: { ipv4: 0, ipv6: 0 } },
    lastChange: now,
  };
}

export class DeviceRegistry {
  private readonly devices: DeviceRuntime[];

  constructor(configs: readonly DeviceConfig[], now: number = Date.now()) {
    this.devices = configs.map((config) => newRuntime(config, now));
  }

  /**
   * The device an agent of `site` reaches at `ip`. A device configured for site 0 serves
   * any site; an agent of site 0 finds a device of any site when only one has that address.
   * An exact site match wins. Ambiguity finds nothing (the connection is then blocked).
   */
  lookup(site: number, ip: string): DeviceRuntime | undefined {
    const addr = normalizeIp(ip);
    const sameIp = this.devices.filter((d) => d.config.ip === addr);
    const exact = sameIp.find((d) => d.config.site === site);
    if (exact) return exact;
    const anySite = sameIp.filter((d) => d.config.site === 0);
    if (anySite.length === 1) return anySite[0];
    if (site === 0 && sameIp.length === 1) return sameIp[0];
    return undefined;
  }

  /** Register a device made on the fly (standalone mode accepting any router). */
  add(config: DeviceConfig, now: number = Date.now()): DeviceRuntime {
    const runtime = newRuntime(config, now);
    this.devices.push(runtime);
    return runtime;
  }

  all(): readonly DeviceRuntime[] {
    return this.devices;
  }

  get nextFreeId(): number {
    return this.devices.reduce((max, d) => Math.max(max, d.config.id), 0) + 1;
  }
}

export function deviceState(d: DeviceRuntime): DeviceState {
  if (d.sessions === 0) return "idle";
  return d.established ? "established" : "connected";
}
