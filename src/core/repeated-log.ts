import type { Clock, TimerHandle } from "./clock.ts";
import type { LogFields, Logger } from "./logger.ts";

/**
 * Log lines that a flood could repeat thousands of times a second (refused logins,
 * blocked devices): the first occurrence of a key is written at once; later ones within
 * `intervalMs` are only counted, and when the interval ends one line says how many there
 * were ("repeated": N, "interval_s": S) with the fields of the last one. Keys are bounded:
 * past `maxKeys`, new keys share one overflow count.
 */
type Level = "warn" | "info";

interface Pending {
  readonly level: Level;
  readonly msg: string;
  fields: LogFields;
  count: number;
  timer?: TimerHandle;
}

export class RepeatedLog {
  private readonly keys = new Map<string, Pending>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 1_000,
  ) {}

  warn(key: string, msg: string, fields: LogFields = {}): void {
    this.note("warn", key, msg, fields);
  }

  info(key: string, msg: string, fields: LogFields = {}): void {
    this.note("info", key, msg, fields);
  }

  private note(level: Level, key: string, msg: string, fields: LogFields): void {
    const k = this.keys.has(key) || this.keys.size < this.maxKeys ? key : "(overflow)";
    const pending = this.keys.get(k);
    if (pending) {
      pending.count++;
      pending.fields = fields;
      return;
    }
    this.logger[level](msg, fields);
    const entry: Pending = { level, msg, fields, count: 0 };
    this.keys.set(k, entry);
    entry.timer = this.clock.schedule(this.intervalMs, () => this.close(k, entry));
  }

  /** The interval of `key` is over: report what it counted, forget the key. */
  private close(key: string, entry: Pending): void {
    if (this.keys.get(key) === entry) this.keys.delete(key);
    if (entry.count > 0) this.report(entry);
  }

  private report(entry: Pending): void {
    this.logger[entry.level](entry.msg, {
      ...entry.fields,
      repeated: entry.count,
      interval_s: this.intervalMs / 1000,
    });
  }

  /** Reports every count now and cancels the timers (at shutdown). */
  flush(): void {
    for (const entry of this.keys.values()) {
      entry.timer?.cancel();
      if (entry.count > 0) this.report(entry);
    }
    this.keys.clear();
  }
}
