import { type ConsolaInstance, createConsola, type LogObject } from "consola";

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
  /** A logger whose lines all carry `fields` (component, device_ip, session_id ...). */
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
}

const CONSOLA_LEVEL: Record<LogLevel, number> = { error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

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
const LEADING_FIELDS = ["component", "instance", "device_ip", "session_id"];

function jsonLine(obj: LogObject, fields: LogFields): string {
  const msg = obj.args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
  const line: LogFields = {
    time: obj.date.toISOString(),
    level: obj.type === "fatal" ? "error" : obj.type,
    msg,
  };
  const clean = redact(fields) as LogFields;
  for (const k of LEADING_FIELDS) if (clean[k] !== undefined) line[k] = clean[k];
  // A field never replaces the fixed ones: it is kept under "field.<name>".
  for (const [k, v] of Object.entries(clean)) {
    if (LEADING_FIELDS.includes(k)) continue;
    line[FIXED_FIELDS.has(k) ? `field.${k}` : k] = v;
  }
  return JSON.stringify(line);
}

const ANSI = {
  reset: "\x1b[0m",
  dim: "\x1b[2m",
  level: {
    error: "\x1b[1;31m",
    fatal: "\x1b[1;31m",
    warn: "\x1b[33m",
    info: "\x1b[32m",
    debug: "\x1b[36m",
    trace: "\x1b[90m",
  } as Record<string, string>,
};

function humanLine(obj: LogObject, fields: LogFields, color = false): string {
  const msg = obj.args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
  const paint = (code: string | undefined, text: string) =>
    color && code ? `${code}${text}${ANSI.reset}` : text;
  const extra = Object.entries(redact(fields) as LogFields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${paint(ANSI.dim, `${k}=`)}${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const level = paint(ANSI.level[obj.type], obj.type.toUpperCase().slice(0, 4).padEnd(4));
  return `${paint(ANSI.dim, obj.date.toISOString())} ${level} ${msg}${extra ? ` ${extra}` : ""}`;
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

class TaggedLogger extends LevelLogger {
  constructor(
    private readonly consola: ConsolaInstance,
    private readonly fields: LogFields,
  ) {
    super();
  }

  protected emit(level: LogLevel, msg: string, fields?: LogFields): void {
    const all = fields ? { ...this.fields, ...fields } : this.fields;
    // consola carries the fields to the reporter as the second argument.
    this.consola[level](msg, { __fields: all });
  }

  child(fields: LogFields): Logger {
    return new TaggedLogger(this.consola, { ...this.fields, ...fields });
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const color = options.color ?? (options.write === undefined && process.stdout.isTTY === true);
  const consola = createConsola({
    level: CONSOLA_LEVEL[options.level],
    // consola folds repeated lines into a summary by default: every line must be written.
    throttle: 0,
    reporters: [
      {
        log(obj: LogObject) {
          const last = obj.args[obj.args.length - 1] as { __fields?: LogFields } | undefined;
          const fields =
            last && typeof last === "object" && "__fields" in last ? last.__fields : {};
          const args =
            fields === undefined || obj.args.length === 0 ? obj.args : obj.args.slice(0, -1);
          const clean = { ...obj, args };
          write(
            options.human ? humanLine(clean, fields ?? {}, color) : jsonLine(clean, fields ?? {}),
          );
        },
      },
    ],
  });
  return new TaggedLogger(consola, {});
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
