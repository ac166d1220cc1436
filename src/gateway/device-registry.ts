import type { DeviceConfig } from "../config/types.ts";
import { normalizeIp } from "../core/address.ts";
import { deviceKey, type ReloadPlan } from "./config-reload.ts";

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
  /** Replaced in place by a reload that changes only the device's name or id. */
  config: DeviceConfig;
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

  /**
   * Applies a reload's device changes (see config-reload.ts). Returns the runtimes of the
   * removed and restarted devices: their live sessions must end. A restarted device gets a
   * fresh runtime, so the sessions that end only settle the old one.
   */
  reconfigure(plan: ReloadPlan, now: number = Date.now()): DeviceRuntime[] {
    const byKey = new Map(this.devices.map((d) => [deviceKey(d.config), d]));
    const ending: DeviceRuntime[] = [];
    const drop = new Set<DeviceRuntime>();
    for (const gone of plan.removed) {
      const runtime = byKey.get(deviceKey(gone));
      if (runtime) drop.add(runtime);
    }
    ending.push(...drop);
    for (const { after } of plan.restarted) {
      const i = this.devices.findIndex((d) => deviceKey(d.config) === deviceKey(after));
      const old = this.devices[i];
      if (!old) continue;
      ending.push(old);
      this.devices[i] = newRuntime(after, now);
    }
    for (const { after } of plan.updated) {
      const runtime = byKey.get(deviceKey(after));
      if (runtime) runtime.config = { ...after, ip: normalizeIp(after.ip) };
    }
    for (let i = this.devices.length - 1; i >= 0; i--) {
      const d = this.devices[i];
      if (d && drop.has(d)) this.devices.splice(i, 1);
    }
    for (const config of plan.added) this.devices.push(newRuntime(config, now));
    return ending;
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
