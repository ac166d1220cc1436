import type { LogEntry } from "../core/log-tee.ts";
import type { LogLevel } from "../core/logger.ts";
import { millisFromUnixNanos, unixNanos } from "../core/timestamp.ts";
import {
  fromAnyValue,
  fromKeyValues,
  OTLP_SCOPE_NAME,
  type OtlpResource,
  resourceAttributes,
  toKeyValues,
} from "./otlp-attributes.ts";
import { isRecord, listField, OtlpDecodeError } from "./otlp-error.ts";

/**
 * Log records ⇄ an OTLP/JSON ExportLogsServiceRequest (opentelemetry.proto.collector.logs.v1),
 * as POSTed to `/v1/logs`. Pure. The message is the record's body, the fields its
 * attributes; levels map to the OTLP severity numbers (TRACE 1, DEBUG 5, INFO 9, WARN 13,
 * ERROR 17) and back by range.
 */
export type { LogEntry };

const SEVERITY: Record<LogLevel, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17 };

export function severityNumber(level: LogLevel): number {
  return SEVERITY[level];
}

/** OTLP severity (number, else text) → our level; unknown → info. */
export function levelOf(number: unknown, text: unknown): LogLevel {
  if (typeof number === "number" && number >= 1 && number <= 24) {
    if (number <= 4) return "trace";
    if (number <= 8) return "debug";
    if (number <= 12) return "info";
    if (number <= 16) return "warn";
    return "error";
  }
  const t = typeof text === "string" ? text.toLowerCase() : "";
  if (t.startsWith("trace")) return "trace";
  if (t.startsWith("debug")) return "debug";
  if (t.startsWith("warn")) return "warn";
  if (t.startsWith("err") || t.startsWith("fatal")) return "error";
  return "info";
}

export function encodeLogs(
  entries: readonly LogEntry[],
  resource: OtlpResource,
  nowMs: number,
): unknown {
  const observed = unixNanos(nowMs);
  return {
    resourceLogs: [
      {
        resource: { attributes: resourceAttributes(resource) },
        scopeLogs: [
          {
            scope: { name: OTLP_SCOPE_NAME, version: resource.serviceVersion },
            logRecords: entries.map((e) => ({
              timeUnixNano: unixNanos(e.timeMs),
              observedTimeUnixNano: observed,
              severityNumber: SEVERITY[e.level],
              severityText: e.level.toUpperCase(),
              body: { stringValue: e.msg },
              attributes: toKeyValues(e.fields),
            })),
          },
        ],
      },
    ],
  };
}

export interface DecodedLogs {
  /** Resource attributes (service.instance.id ...). */
  readonly resource: Record<string, unknown>;
  readonly entries: LogEntry[];
}

function bodyText(body: unknown): string {
  const v = fromAnyValue(body);
  if (v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Parse an ExportLogsServiceRequest; throws OtlpDecodeError when its shape is wrong. */
export function decodeLogs(body: unknown): DecodedLogs[] {
  if (!isRecord(body)) throw new OtlpDecodeError("the body must be a JSON object");
  const out: DecodedLogs[] = [];
  for (const [i, rl] of listField(body, "resourceLogs", "request").entries()) {
    const where = `resourceLogs[${i}]`;
    if (!isRecord(rl)) throw new OtlpDecodeError(`${where} must be an object`);
    const resource = isRecord(rl.resource) ? fromKeyValues(rl.resource.attributes) : {};
    const entries: LogEntry[] = [];
    for (const [j, sl] of listField(rl, "scopeLogs", where).entries()) {
      if (!isRecord(sl)) throw new OtlpDecodeError(`${where}.scopeLogs[${j}] must be an object`);
      for (const rec of listField(sl, "logRecords", `${where}.scopeLogs[${j}]`)) {
        if (!isRecord(rec)) throw new OtlpDecodeError(`${where}: a log record must be an object`);
        const timeMs =
          millisFromUnixNanos(rec.timeUnixNano) ?? millisFromUnixNanos(rec.observedTimeUnixNano);
        entries.push({
          timeMs: timeMs ?? 0,
          level: levelOf(rec.severityNumber, rec.severityText),
          msg: bodyText(rec.body),
          fields: fromKeyValues(rec.attributes),
        });
      }
    }
    out.push({ resource, entries });
  }
  return out;
}
