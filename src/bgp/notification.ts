import {
  CeaseSubcode,
  describeError,
  ErrorCode,
  HeaderErrorSubcode,
  MessageType,
} from "./constants.ts";
import { encodeMessage } from "./header.ts";
import { BgpNotificationError, uint16Data } from "./notification-error.ts";

/** A NOTIFICATION message (RFC 4271 §4.5). */
export interface BgpNotification {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  /** RFC 9003 Shutdown Communication carried by Cease/Administrative Shutdown or Reset. */
  readonly shutdownMessage?: string;
}

/**
 * Decode a NOTIFICATION body. A body shorter than 2 octets is a Bad Message Length.
 * The data is copied, so the result outlives the received buffer.
 */
export function decodeNotification(body: Uint8Array): BgpNotification {
  if (body.length < 2) {
    throw new BgpNotificationError(
      ErrorCode.MESSAGE_HEADER,
      HeaderErrorSubcode.BAD_MESSAGE_LENGTH,
      "NOTIFICATION too short",
      uint16Data(19 + body.length),
    );
  }
  const code = body[0] as number;
  const subcode = body[1] as number;
  const data = body.slice(2);
  const shutdownMessage = readShutdownMessage(code, subcode, data);
  return shutdownMessage === undefined
    ? { code, subcode, data }
    : { code, subcode, data, shutdownMessage };
}

function readShutdownMessage(code: number, subcode: number, data: Uint8Array): string | undefined {
  if (code !== ErrorCode.CEASE) return undefined;
  if (
    subcode !== CeaseSubcode.ADMINISTRATIVE_SHUTDOWN &&
    subcode !== CeaseSubcode.ADMINISTRATIVE_RESET
  ) {
    return undefined;
  }
  const len = data[0];
  if (len === undefined || len === 0 || len + 1 > data.length) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(1, 1 + len));
  } catch {
    return undefined;
  }
}

/** Encode a whole NOTIFICATION message. */
export function encodeNotification(n: {
  code: number;
  subcode: number;
  data?: Uint8Array;
}): Uint8Array {
  const data = n.data ?? new Uint8Array(0);
  const body = new Uint8Array(2 + data.length);
  body[0] = n.code;
  body[1] = n.subcode;
  body.set(data, 2);
  return encodeMessage(MessageType.NOTIFICATION, body);
}

/** The NOTIFICATION that reports `err`. */
export function notificationFromError(err: BgpNotificationError): Uint8Array {
  return encodeNotification({ code: err.code, subcode: err.subcode, data: err.data });
}

/**
 * Data for Cease/Administrative Shutdown or Reset carrying an RFC 9003 Shutdown
 * Communication: a length octet and up to 255 octets of UTF-8 (cut on a character
 * boundary).
 */
export function shutdownCommunication(message: string): Uint8Array {
  let bytes = new TextEncoder().encode(message);
  if (bytes.length > 255) {
    let end = 255;
    while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
    bytes = bytes.slice(0, end);
  }
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

/** "Cease/Administrative Shutdown (6/2): \"maintenance\"": for logs and close reasons. */
export function describeNotification(n: BgpNotification): string {
  const base = describeError(n.code, n.subcode);
  return n.shutdownMessage === undefined ? base : `${base}: ${JSON.stringify(n.shutdownMessage)}`;
}
