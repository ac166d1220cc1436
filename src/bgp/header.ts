import { BgpProxyError } from "../core/errors.ts";
import { HEADER_LENGTH, MARKER_LENGTH, type MessageType } from "./constants.ts";

/**
 * The 19-octet message header (RFC 4271 §4.1): 16 × 0xFF marker, 2-octet total length,
 * 1-octet type.
 */

/** Wrap `body` in a header: returns the whole message. */
export function encodeMessage(type: MessageType, body: Uint8Array, maxLength = 4096): Uint8Array {
  const length = HEADER_LENGTH + body.length;
  if (length > maxLength) {
    throw new BgpProxyError(
      "internal",
      `BGP message of ${length} octets exceeds the ${maxLength}-octet limit`,
      { retryable: false },
    );
  }
  const out = new Uint8Array(length);
  out.fill(0xff, 0, MARKER_LENGTH);
  out[16] = length >>> 8;
  out[17] = length & 0xff;
  out[18] = type;
  out.set(body, HEADER_LENGTH);
  return out;
}
