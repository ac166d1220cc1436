import type { Clock } from "./clock.ts";
import type { LogFields, Logger } from "./logger.ts";
import { RepeatedLog } from "./repeated-log.ts";

/**
 * Each router connection writes a few info lines on its way through (opened, relaying,
 * established, closed). A flood of connections would bury the journal in them, so only
 * the first `perInterval` sessions of each interval log at their own levels; the rest
 * write their info and warn lines at debug (errors stay errors), and one line per
 * interval says how many sessions went over the budget.
 */
export interface SessionLogLimits {
  readonly perInterval: number;
  readonly intervalMs: number;
}

export const DEFAULT_SESSION_LOG_LIMITS: SessionLogLimits = {
  perInterval: 100,
  intervalMs: 10_000,
};

/** `log` with its info and warn lines at debug. */
function quiet(log: Logger): Logger {
  return {
    error: (msg: string, fields?: LogFields) => log.error(msg, fields),
    warn: (msg: string, fields?: LogFields) => log.debug(msg, { ...fields, level_was: "warn" }),
    info: (msg: string, fields?: LogFields) => log.debug(msg, fields),
    debug: (msg: string, fields?: LogFields) => log.debug(msg, fields),
    trace: (msg: string, fields?: LogFields) => log.trace(msg, fields),
    child: (fields: LogFields) => quiet(log.child(fields)),
  };
}

export class SessionLogBudget {
  private windowStart: number;
  private used = 0;
  private readonly notice: RepeatedLog;

  constructor(
    logger: Logger,
    private readonly clock: Clock,
    private readonly limits: SessionLogLimits = DEFAULT_SESSION_LOG_LIMITS,
  ) {
    this.windowStart = clock.now();
    this.notice = new RepeatedLog(logger, clock, limits.intervalMs);
  }

  /** The logger a new session should use: `log` itself while within the budget. */
  forSession(log: Logger): Logger {
    const now = this.clock.now();
    if (now - this.windowStart >= this.limits.intervalMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (++this.used <= this.limits.perInterval) return log;
    this.notice.warn("over", "new sessions over the log budget: their lines go to debug", {
      per_interval: this.limits.perInterval,
      interval_s: this.limits.intervalMs / 1000,
    });
    return quiet(log);
  }

  flush(): void {
    this.notice.flush();
  }
}
