import type { DeviceConfig, DeviceTarget, GatewayConfig } from "../config/types.ts";
import { normalizeIp } from "../core/address.ts";

/**
 * What a reload changes: the difference between the running gateway configuration and a
 * newly read one, as a plan the gateway applies. Pure: two typed configs in, a plan out.
 *
 * A device is known by where its router connects from, (site, address); that pair is
 * unique in a file. Between two files a device is:
 * - added: its (site, address) is new — its routers are accepted from now on;
 * - removed: its (site, address) is gone — its sessions end;
 * - restarted: its target (collector or forward), forward address/source or TCP-MD5 key
 *   changed — its sessions end, and the routers' next connections use the new settings;
 * - updated: only its name or id changed — its sessions go on, under the new name/id;
 * - unchanged.
 * Accounts and the collector's settings apply to new calls and sessions from the reload on.
 * Everything set by flags (listen addresses, TLS) needs a restart.
 */
export type RestartCause = "target" | "forward" | "md5";

export interface DeviceRestart {
  readonly before: DeviceConfig;
  readonly after: DeviceConfig;
  readonly causes: readonly RestartCause[];
}

export interface DeviceUpdate {
  readonly before: DeviceConfig;
  readonly after: DeviceConfig;
}

export interface ReloadPlan {
  readonly added: readonly DeviceConfig[];
  readonly removed: readonly DeviceConfig[];
  readonly restarted: readonly DeviceRestart[];
  readonly updated: readonly DeviceUpdate[];
  readonly unchanged: number;
  readonly accountsChanged: boolean;
  readonly collectorChanged: boolean;
}

/** The identity of a device across reloads. */
export function deviceKey(d: Pick<DeviceConfig, "site" | "ip">): string {
  return `${d.site}/${normalizeIp(d.ip)}`;
}

function restartCauses(before: DeviceTarget, after: DeviceTarget): RestartCause[] {
  if (before.kind !== after.kind) return ["target"];
  if (before.kind === "forward" && after.kind === "forward") {
    const same =
      before.forward.host === after.forward.host &&
      before.forward.port === after.forward.port &&
      (before.source ?? "") === (after.source ?? "");
    return same ? [] : ["forward"];
  }
  return [];
}

function sameAccounts(a: GatewayConfig["accounts"], b: GatewayConfig["accounts"]): boolean {
  if (a.length !== b.length) return false;
  return a.every(
    (x, i) =>
      x.email === b[i]?.email &&
      x.tokenSha256 === b[i]?.tokenSha256 &&
      x.companyId === b[i]?.companyId,
  );
}

export function planReload(before: GatewayConfig, after: GatewayConfig): ReloadPlan {
  const old = new Map(before.devices.map((d) => [deviceKey(d), d]));
  const added: DeviceConfig[] = [];
  const restarted: DeviceRestart[] = [];
  const updated: DeviceUpdate[] = [];
  let unchanged = 0;
  for (const next of after.devices) {
    const key = deviceKey(next);
    const prev = old.get(key);
    if (!prev) {
      added.push(next);
      continue;
    }
    old.delete(key);
    const causes = restartCauses(prev.target, next.target);
    if ((prev.md5Key ?? "") !== (next.md5Key ?? "")) causes.push("md5");
    if (causes.length > 0) restarted.push({ before: prev, after: next, causes });
    else if (prev.name !== next.name || prev.id !== next.id) {
      updated.push({ before: prev, after: next });
    } else unchanged++;
  }
  const c0 = before.collector;
  const c1 = after.collector;
  return {
    added,
    removed: [...old.values()],
    restarted,
    updated,
    unchanged,
    accountsChanged: !sameAccounts(before.accounts, after.accounts),
    collectorChanged:
      c0.asn !== c1.asn || c0.routerId !== c1.routerId || c0.holdTime !== c1.holdTime,
  };
}

/** True when applying the plan changes nothing. */
export function isEmptyPlan(plan: ReloadPlan): boolean {
  return (
    plan.added.length === 0 &&
    plan.removed.length === 0 &&
    plan.restarted.length === 0 &&
    plan.updated.length === 0 &&
    !plan.accountsChanged &&
    !plan.collectorChanged
  );
}

/** The plan as log fields: device names and counts, never a key or token. */
export function planSummary(plan: ReloadPlan): Record<string, string | number | boolean> {
  const names = (list: readonly { name: string }[]) => list.map((d) => d.name).join(",");
  return {
    added: names(plan.added),
    removed: names(plan.removed),
    restarted: plan.restarted.map((r) => `${r.after.name}(${r.causes.join("+")})`).join(","),
    updated: names(plan.updated.map((u) => u.after)),
    unchanged: plan.unchanged,
    accounts_changed: plan.accountsChanged,
    collector_changed: plan.collectorChanged,
  };
}
