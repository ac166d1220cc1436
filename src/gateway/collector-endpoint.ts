import type { Duplex } from "node:stream";
import type { CollectorConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionInfo } from "./data-service.ts";
import type { DeviceRuntime } from "./device-registry.ts";

export function openCollector(
  _device: DeviceRuntime,
  _collector: CollectorConfig,
  _session: SessionInfo,
  _logger: Logger,
): Duplex {
  throw new Error("collector endpoint pending");
}
