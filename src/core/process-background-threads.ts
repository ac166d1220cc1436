import { ownThreadPort } from "../../native/thread-scheduling.ts";
import { BackgroundThreads, type ThreadPort } from "./background-threads.ts";
import { backgroundClock, type Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";
import { ProcessRoles } from "./process-roles.ts";

/**
 * The process's one BackgroundThreads (src/core/background-threads.ts). Thread priorities
 * are per process, so the roles running in it share it (process-roles.ts): it runs while any
 * role wants it, logging through the logger of the first role that is still there when it
 * starts.
 */
export class ProcessBackgroundThreads {
  private current: BackgroundThreads | undefined;
  private readonly roles = new ProcessRoles<Logger>((logs) => this.update(logs));

  constructor(
    private readonly clock: Clock,
    private readonly port: () => ThreadPort,
  ) {}

  /** The running one (undefined when no role wants it). */
  get running(): BackgroundThreads | undefined {
    return this.current;
  }

  /** A role wants the background threads lowered; returns its stop (idempotent). */
  start(log: Logger): () => void {
    return this.roles.join(log);
  }

  private update(logs: readonly Logger[]): void {
    const [log] = logs;
    if (log === undefined) {
      this.current?.stop();
      this.current = undefined;
    } else if (this.current === undefined) {
      this.current = new BackgroundThreads(this.clock, this.port, log);
      this.current.start();
    }
  }
}

export const processBackgroundThreads = new ProcessBackgroundThreads(
  backgroundClock,
  ownThreadPort,
);
