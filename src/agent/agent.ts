import type { AgentConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";

export interface RunningAgent {
  close(): Promise<void>;
}

export async function startAgent(_config: AgentConfig, _logger: Logger): Promise<RunningAgent> {
  throw new Error("not implemented yet");
}
