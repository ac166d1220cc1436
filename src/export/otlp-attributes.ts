/**
 * OTLP/JSON attribute values (opentelemetry.proto.common.v1 AnyValue and KeyValue, in the
 * protobuf JSON mapping: lowerCamelCase field names, 64-bit integers as decimal strings,
 * bytes as base64). Pure, both ways; decoding never throws on odd values, it skips them.
 */
export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | { bytesValue: string };

export interface KeyValue {
  key: string;
  value: AnyValue;
}

const MAX_DEPTH = 6;

export function toAnyValue(v: unknown, depth = 0): AnyValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "bigint") return { intValue: v.toString() };
  if (typeof v === "number") {
    return Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  }
  if (depth >= MAX_DEPTH) return { stringValue: "[truncated]" };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) {
    return {
      arrayValue: {
        values: v.map((x) => toAnyValue(x, depth + 1) ?? { stringValue: "" }),
      },
    };
  }
  if (v instanceof Error) return { stringValue: v.message };
  if (typeof v === "object")
    return { kvlistValue: { values: toKeyValues(v as object, depth + 1) } };
  return { stringValue: String(v) };
}

export function toKeyValues(record: object, depth = 0): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [key, v] of Object.entries(record)) {
    const value = toAnyValue(v, depth);
    if (value !== undefined) out.push({ key, value });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function fromAnyValue(v: unknown, depth = 0): unknown {
  if (!isObject(v) || depth > MAX_DEPTH) return undefined;
  if (typeof v.stringValue === "string") return v.stringValue;
  if (typeof v.boolValue === "boolean") return v.boolValue;
  if (typeof v.intValue === "string" && /^-?\d+$/.test(v.intValue)) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue;
  }
  if (typeof v.intValue === "number") return v.intValue;
  if (typeof v.doubleValue === "number") return v.doubleValue;
  if (typeof v.doubleValue === "string") {
    const n = Number(v.doubleValue); // "NaN", "Infinity" in the protobuf JSON mapping
    return Number.isNaN(n) && v.doubleValue !== "NaN" ? undefined : n;
  }
  if (typeof v.bytesValue === "string") return v.bytesValue;
  if (isObject(v.arrayValue)) {
    const values = Array.isArray(v.arrayValue.values) ? v.arrayValue.values : [];
    return values.map((x) => fromAnyValue(x, depth + 1));
  }
  if (isObject(v.kvlistValue)) return fromKeyValues(v.kvlistValue.values, depth + 1);
  return undefined;
}

/** KeyValue list → plain object (later duplicates win; malformed entries skipped). */
export function fromKeyValues(list: unknown, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (!isObject(kv) || typeof kv.key !== "string" || kv.key === "") continue;
    const value = fromAnyValue(kv.value, depth);
    if (value !== undefined) out[kv.key] = value;
  }
  return out;
}

/** The resource of an exporting agent, as OTLP semantic conventions name it. */
export interface OtlpResource {
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** The agent's instance UUID (`service.instance.id`). */
  readonly instance: string;
  /** Anything else worth knowing (site, region ...). */
  readonly extra?: Readonly<Record<string, string | number>>;
}

export function resourceAttributes(r: OtlpResource): KeyValue[] {
  return toKeyValues({
    "service.name": r.serviceName,
    "service.version": r.serviceVersion,
    "service.instance.id": r.instance,
    ...(r.extra ?? {}),
  });
}

export const OTLP_SCOPE_NAME = "bgproxy";
