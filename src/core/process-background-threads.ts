import { ownThreadPort } from "../../native/thread-scheduling.ts";
import { BackgroundThreads, type ThreadPort } from "./background-threads.ts";
import { backgroundClock, type Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";

/**
 * The process's one BackgroundThreads (src/core/background-threads.ts). Thread priorities
 * are per process, so the roles running in it (the agent, the gateway, both in standalone
 * mode and in-process tests) share it: it runs while any role wants it (`start` counts
 * them; each gets its own stop), logging through the first role's logger.
 */
export class ProcessBackgroundThreads {
  private roles = 0;
  private current: BackgroundThreads | undefined;

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
    this.roles++;
    if (this.current === undefined) {
      this.current = new BackgroundThreads(this.clock, this.port, log);
      this.current.start();
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.roles--;
      if (this.roles === 0) {
        this.current?.stop();
        this.current = undefined;
      }
    };
  }
}

export const processBackgroundThreads = new ProcessBackgroundThreads(
  backgroundClock,
  ownThreadPort,
);
