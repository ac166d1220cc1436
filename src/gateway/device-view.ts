import { hostPort } from "../core/address.ts";
import { type DeviceRuntime, deviceState } from "./device-registry.ts";

/** `GET /api/devices`: one object per device (pure renderer; secrets never included). */
export interface DeviceView {
  name: string;
  id: number;
  ip: string;
  site: number;
  target: string;
  state: "idle" | "connected" | "established";
  sessions: number;
  sessions_total: number;
  updates: number;
  prefixes: { ipv4: number; ipv6: number };
  md5: boolean;
  /** The gateway that renders this view (`--name`), when it has one: its sessions are here. */
  gateway?: string;
}

export function renderDevices(devices: readonly DeviceRuntime[], gateway?: string): DeviceView[] {
  return devices.map((d) => ({
    name: d.config.name,
    id: d.config.id,
    ip: d.config.ip,
    site: d.config.site,
    target:
      d.config.target.kind === "forward"
        ? `forward ${hostPort(d.config.target.forward.host, d.config.target.forward.port)}`
        : "collector",
    state: deviceState(d),
    sessions: d.sessions,
    sessions_total: d.sessionsTotal,
    updates: d.counters.updates,
    prefixes: { ipv4: d.counters.prefixes.ipv4, ipv6: d.counters.prefixes.ipv6 },
    md5: Boolean(d.config.md5Key),
    ...(gateway === undefined ? {} : { gateway }),
  }));
}
