import type { AccountConfig, GatewayConfig } from "../config/types.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { deviceKey, isEmptyPlan, planReload, planSummary } from "./config-reload.ts";
import type { DeviceRegistry } from "./device-registry.ts";
import type { SessionTable } from "./session-table.ts";

/**
 * A reload of a running gateway (SIGHUP, POST /admin/reload): read the configuration
 * again, and either refuse it (one log line; the running configuration stays) or apply the
 * difference (config-reload.ts) to the live gateway: the device registry, the sessions of
 * removed and changed devices, the accounts. One log line either way.
 */
export type GatewayReload =
  | {
      readonly kind: "applied";
      readonly changes: Record<string, string | number | boolean>;
      /** Live sessions asked to end (removed or restarted devices). */
      readonly sessionsEnded: number;
    }
  | { readonly kind: "refused"; readonly error: string }
  | { readonly kind: "unavailable"; readonly error: string };

export interface ReloadTargets {
  readonly registry: DeviceRegistry;
  readonly sessions: SessionTable;
  /** The accounts the services authenticate against, replaced in place. */
  readonly accounts: AccountConfig[];
  readonly now: () => number;
}

export function reloadGateway(
  running: GatewayConfig,
  readConfig: (() => GatewayConfig) | undefined,
  targets: ReloadTargets,
  log: Logger,
  commit: (next: GatewayConfig) => void,
): GatewayReload {
  if (!readConfig) {
    const error = "this gateway has no configuration file to reload";
    log.warn(`reload refused: ${error}`);
    return { kind: "unavailable", error };
  }
  let read: GatewayConfig;
  try {
    read = readConfig();
  } catch (err) {
    const error = errorMessage(err);
    log.error(`reload refused, the running configuration stays: ${error}`);
    return { kind: "refused", error };
  }
  // Flags are read once: what they set (and accept-any) stays as it is.
  const next: GatewayConfig = {
    ...running,
    accounts: read.accounts,
    collector: read.collector,
    devices: read.devices,
  };
  const plan = planReload(running, next);
  const changes = planSummary(plan);
  let sessionsEnded = 0;
  if (!isEmptyPlan(plan)) {
    const removedKeys = new Set(plan.removed.map(deviceKey));
    for (const device of targets.registry.reconfigure(plan, targets.now())) {
      const removed = removedKeys.has(deviceKey(device.config));
      sessionsEnded += targets.sessions.endDevice(
        device,
        removed ? "device removed by a reload" : "device changed by a reload",
      );
    }
    if (plan.accountsChanged) targets.accounts.splice(0, targets.accounts.length, ...next.accounts);
  }
  commit(next);
  log.info(isEmptyPlan(plan) ? "reloaded: nothing changed" : "reloaded", {
    ...changes,
    sessions_ended: sessionsEnded,
  });
  return { kind: "applied", changes, sessionsEnded };
}
