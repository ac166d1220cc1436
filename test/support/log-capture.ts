/**
 * A logger that keeps every line (JSON, debug level) for assertions: which messages were
 * logged, how often, with which fields, and that no secret ever reached a line. Lines are
 * echoed to stderr when BGPROXY_TEST_LOG is set.
 */
import { createLogger, type Logger } from "../../src/core/logger.ts";

export type LogRecord = Record<string, unknown> & { level: string; msg: string };

export interface LogCapture {
  readonly logger: Logger;
  /** Every line as written (JSON text). */
  readonly lines: string[];
  /** Every line, parsed. */
  records(): LogRecord[];
  /** Records whose message equals `msg` (or contains it, when a RegExp). */
  find(msg: string | RegExp): LogRecord[];
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const echo = process.env.BGPROXY_TEST_LOG !== undefined;
  const logger = createLogger({
    level: "debug",
    human: false,
    write: (line) => {
      lines.push(line);
      if (echo) process.stderr.write(`${line}\n`);
    },
  });
  const records = () => lines.map((l) => JSON.parse(l) as LogRecord);
  return {
    logger,
    lines,
    records,
    find: (msg) =>
      records().filter((r) => (typeof msg === "string" ? r.msg === msg : msg.test(r.msg))),
  };
}
