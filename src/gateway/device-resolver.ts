import { normalizeIp } from "../core/address.ts";
import type { DeviceRegistry, DeviceRuntime } from "./device-registry.ts";

/**
 * Finds the device for a (site, address); in accept-any mode (standalone without a device
 * list) an unknown router becomes a collector device named after its address.
 */
export class DeviceResolver {
  constructor(
    private readonly registry: DeviceRegistry,
    private readonly acceptAny: boolean,
    /** The injected clock's now(): when a device made on the fly appears. */
    private readonly now: () => number = Date.now,
  ) {}

  resolve(site: number, ip: string): DeviceRuntime | undefined {
    const found = this.registry.lookup(site, ip);
    if (found || !this.acceptAny) return found;
    const addr = normalizeIp(ip);
    return this.registry.add(
      {
        name: `router-${addr}`,
        id: this.registry.nextFreeId,
        site: 0,
        ip: addr,
        target: { kind: "collector" },
      },
      this.now(),
    );
  }
}
