import { BgpProxyError } from "../core/errors.ts";
import { describeError } from "./constants.ts";

const EMPTY = new Uint8Array(0);

/**
 * What a decoder throws when the peer's bytes break RFC 4271: it carries the
 * NOTIFICATION (code, subcode, data) that the session must send before closing.
 */
export class BgpNotificationError extends BgpProxyError {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;

  constructor(code: number, subcode: number, detail: string, data: Uint8Array = EMPTY) {
    super("protocol", `${describeError(code, subcode)}: ${detail}`, { retryable: false });
    this.name = "BgpNotificationError";
    this.code = code;
    this.subcode = subcode;
    this.data = data;
  }
}

/** A 2-octet big-endian value, as NOTIFICATION data for Bad Message Length and others. */
export function uint16Data(value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}
