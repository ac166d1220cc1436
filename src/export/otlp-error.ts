/** A request body that is not valid OTLP/JSON: the receiver answers 400 with this message. */
export class OtlpDecodeError extends Error {
  override readonly name = "OtlpDecodeError";
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A repeated field: absent means empty; anything but an array is an error. */
export function listField(obj: Record<string, unknown>, key: string, where: string): unknown[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`${where}.${key} must be an array`);
  return v;
}
