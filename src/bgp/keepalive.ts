import { MessageType } from "./constants.ts";
import { encodeMessage } from "./header.ts";

const EMPTY = new Uint8Array(0);

/** A whole KEEPALIVE message: the 19-octet header alone (RFC 4271 §4.4). */
export function encodeKeepalive(): Uint8Array {
  return encodeMessage(MessageType.KEEPALIVE, EMPTY);
}
