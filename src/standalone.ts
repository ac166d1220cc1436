import type { StandaloneConfig } from "./config/types.ts";
import type { Logger } from "./core/logger.ts";

export interface RunningStandalone {
  close(): Promise<void>;
}

export async function startStandalone(
  _config: StandaloneConfig,
  _logger: Logger,
): Promise<RunningStandalone> {
  throw new Error("not implemented yet");
}
