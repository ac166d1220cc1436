import { humanLogTime } from "./timestamp.ts";

/**
 * One tagged logger per subsystem with fixed field names. By default one JSON object a
 * line on stdout (journald- and container-friendly); `human` gives readable lines.
 * Secrets are redacted here, whatever a caller passes in.
 */
export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug", "trace"];

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (component, device_ip, session-id ...). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  human: boolean;
  /** Where lines go; stdout by default. Tests pass a collector. */
  write?: (line: string) => void;
  /**
   * Colour human lines (ANSI). Default: only when writing to stdout and stdout is a
   * terminal, so journald, files and pipes get plain text. JSON lines are never coloured.
   */
  color?: boolean;
  /** The clock stamped on each line; Date.now by default. */
  now?: () => number;
}

const SECRET_KEY =
  /token|password|passwd|secret|md5[_-]?key|tcp[_-]?md5|authorization|x-ch-auth-api-token|x-ch-auth-token/i;
export const REDACTED = "[redacted]";

/** Deep copy of `value` with every secret-looking key's value replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > 6) return "[truncated]";
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

const FIXED_FIELDS = new Set(["time", "level", "msg"]);
/** Fields that, when present, come right after the fixed three, in this order. */
const LEADING_FIELDS = ["component", "instance", "device_ip", "session-id"];

function jsonLine(timeMs: number, level: LogLevel, msg: string, fields: LogFields): string {
  const line: LogFields = { time: new Date(timeMs).toISOString(), level, msg };
  const clean = redact(fields) as LogFields;
  for (const k of LEADING_FIELDS) if (clean[k] !== undefined) line[k] = clean[k];
  // A field never replaces the fixed ones: it is kept under "field.<name>".
  for (const [k, v] of Object.entries(clean)) {
    if (LEADING_FIELDS.includes(k)) continue;
    line[FIXED_FIELDS.has(k) ? `field.${k}` : k] = v;
  }
  return JSON.stringify(line);
}

/** The reference product's level words (zerolog's console writer). */
const LEVEL_WORD: Record<LogLevel, string> = {
  error: "ERR",
  warn: "WRN",
  info: "INF",
  debug: "DBG",
  trace: "TRC",
};

const ANSI = {
  reset: "\x1b[0m",
  dim: "\x1b[2m",
  level: {
    error: "\x1b[1;31m",
    warn: "\x1b[33m",
    info: "\x1b[32m",
    debug: "\x1b[36m",
    trace: "\x1b[90m",
  } as Record<LogLevel, string>,
};

/** A value as key=value shows it: strings bare unless they hold spaces, quotes or `=`. */
function humanValue(v: unknown): string {
  if (typeof v !== "string") return JSON.stringify(v) ?? String(v);
  return v === "" || /[\s"=\\]/.test(v) ? JSON.stringify(v) : v;
}

/**
 * `2023-07-25 17:01:49.87 INF Deny-listed an INVALID / UNKNOWN device component=... ttl_seconds=1200`:
 * the reference's console shape. Time in UTC to the hundredth of a second, a three-letter
 * level, the message, then the fields sorted by name.
 */
function humanLine(
  timeMs: number,
  level: LogLevel,
  msg: string,
  fields: LogFields,
  color: boolean,
): string {
  const paint = (code: string, text: string) => (color ? `${code}${text}${ANSI.reset}` : text);
  const extra = Object.entries(redact(fields) as LogFields)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${paint(ANSI.dim, `${k}=`)}${humanValue(v)}`)
    .join(" ");
  const word = paint(ANSI.level[level], LEVEL_WORD[level]);
  return `${paint(ANSI.dim, humanLogTime(timeMs))} ${word} ${msg}${extra ? ` ${extra}` : ""}`;
}

/**
 * The five level methods, each handing its record to `emit`: what a Logger implementation
 * writes itself is `emit` and `child`.
 */
export abstract class LevelLogger implements Logger {
  protected abstract emit(level: LogLevel, msg: string, fields?: LogFields): void;
  abstract child(fields: LogFields): Logger;

  error(msg: string, fields?: LogFields): void {
    this.emit("error", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.emit("warn", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.emit("info", msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.emit("debug", msg, fields);
  }
  trace(msg: string, fields?: LogFields): void {
    this.emit("trace", msg, fields);
  }
}

/** Where records go once filtered: one function, shared by a logger and its children. */
type LineWriter = (level: LogLevel, msg: string, fields: LogFields) => void;

class TaggedLogger extends LevelLogger {
  constructor(
    private readonly out: LineWriter,
    private readonly threshold: number,
    private readonly fields: LogFields,
  ) {
    super();
  }

  protected emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LOG_LEVELS.indexOf(level) > this.threshold) return;
    this.out(level, msg, fields ? { ...this.fields, ...fields } : this.fields);
  }

  child(fields: LogFields): Logger {
    return new TaggedLogger(this.out, this.threshold, { ...this.fields, ...fields });
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const color = options.color ?? (options.write === undefined && process.stdout.isTTY === true);
  const now = options.now ?? Date.now;
  const out: LineWriter = options.human
    ? (level, msg, fields) => write(humanLine(now(), level, msg, fields, color))
    : (level, msg, fields) => write(jsonLine(now(), level, msg, fields));
  return new TaggedLogger(out, LOG_LEVELS.indexOf(options.level), {});
}

/** A logger that drops everything: for pure code paths under test. */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  child() {
    return silentLogger;
  },
};
