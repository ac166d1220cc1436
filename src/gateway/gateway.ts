import type { GatewayConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";

export interface RunningGateway {
  close(): Promise<void>;
}

export async function startGateway(
  _config: GatewayConfig,
  _logger: Logger,
): Promise<RunningGateway> {
  throw new Error("not implemented yet");
}
