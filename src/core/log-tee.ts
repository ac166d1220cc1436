import { LevelLogger, LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "./logger.ts";

/**
 * A logger that writes through `base` and also hands every record at or above `minLevel`
 * to a sink (the log exporter's queue). The sink is called synchronously and must be
 * cheap; whatever it throws is swallowed, so a sink can never break the code that logs.
 * Fields are passed as given: the sink redacts before anything leaves the process.
 */
export interface LogEntry {
  readonly timeMs: number;
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: LogFields;
}

export type LogSink = (entry: LogEntry) => void;

/** Whether `level` passes a `minLevel` filter (error < warn < info < debug < trace). */
export function levelEnabled(level: LogLevel, minLevel: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(minLevel);
}

class TeeLogger extends LevelLogger {
  constructor(
    private readonly base: Logger,
    private readonly sink: LogSink,
    private readonly minLevel: LogLevel,
    private readonly now: () => number,
    private readonly fields: LogFields,
  ) {
    super();
  }

  protected emit(level: LogLevel, msg: string, fields?: LogFields): void {
    this.base[level](msg, fields);
    if (!levelEnabled(level, this.minLevel)) return;
    try {
      this.sink({
        timeMs: this.now(),
        level,
        msg,
        fields: fields ? { ...this.fields, ...fields } : this.fields,
      });
    } catch {
      // the sink must never break the caller
    }
  }

  child(fields: LogFields): Logger {
    return new TeeLogger(this.base.child(fields), this.sink, this.minLevel, this.now, {
      ...this.fields,
      ...fields,
    });
  }
}

export function teeLogger(
  base: Logger,
  sink: LogSink,
  minLevel: LogLevel,
  now: () => number = Date.now,
): Logger {
  return new TeeLogger(base, sink, minLevel, now, {});
}
