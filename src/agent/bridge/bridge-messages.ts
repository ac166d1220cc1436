import {
  Afi,
  AttrFlag,
  AttrType,
  CeaseSubcode,
  ErrorCode,
  FsmErrorSubcode,
  MessageType,
  Safi,
} from "../../bgp/constants.ts";
import { encodeMessage } from "../../bgp/header.ts";
import { encodeNotification, shutdownCommunication } from "../../bgp/notification.ts";

/** The NOTIFICATIONs the BGP bridge writes itself, and the one UPDATE it recognises. */

/** Hold Timer Expired (4/0): a side was silent for the hold time. */
export function holdTimerExpired(): Uint8Array {
  return encodeNotification({ code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0 });
}

/** Cease/Administrative Reset with an RFC 9003 communication: bridging gave up. */
export function gaveUp(seconds: number): Uint8Array {
  return encodeNotification({
    code: ErrorCode.CEASE,
    subcode: CeaseSubcode.ADMINISTRATIVE_RESET,
    data: shutdownCommunication(`bgproxy: no far end for ${seconds} s`),
  });
}

/** What a router hears when its gateway drains and its session cannot be carried over. */
export const GATEWAY_SHUTDOWN_MESSAGE = "bgproxy gateway shutting down";

/** Cease/Administrative Shutdown (RFC 8203 communication): the gateway is going away. */
export function administrativeShutdown(): Uint8Array {
  return encodeNotification({
    code: ErrorCode.CEASE,
    subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
    data: shutdownCommunication(GATEWAY_SHUTDOWN_MESSAGE),
  });
}

/** Cease/Other Configuration Change: the new far end does not match the session. */
export function configurationChanged(): Uint8Array {
  return encodeNotification({
    code: ErrorCode.CEASE,
    subcode: CeaseSubcode.OTHER_CONFIGURATION_CHANGE,
  });
}

/** Finite State Machine Error (RFC 6608) for a message the state does not expect. */
export function unexpectedMessage(state: "opensent" | "openconfirm" | "established"): Uint8Array {
  const subcode = {
    opensent: FsmErrorSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT,
    openconfirm: FsmErrorSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM,
    established: FsmErrorSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED,
  }[state];
  return encodeNotification({ code: ErrorCode.FSM, subcode });
}

/**
 * An RFC 4724 End-of-RIB marker (whole message): an UPDATE with nothing in it (IPv4
 * unicast), or with only an empty MP_UNREACH_NLRI. It carries no route.
 */
export function isEndOfRib(message: Uint8Array): boolean {
  const u16 = (i: number) => ((message[i] as number) << 8) | (message[i + 1] as number);
  if (message.length === 23) return u16(19) === 0 && u16(21) === 0;
  // withdrawn 0, attributes 6: flags, type 15 (MP_UNREACH_NLRI), length 3, AFI, SAFI.
  return (
    message.length === 29 &&
    u16(19) === 0 &&
    u16(21) === 6 &&
    message[24] === 15 &&
    message[25] === 3
  );
}

/**
 * The End-of-RIB marker for a family (RFC 4724): an empty UPDATE for IPv4 unicast, an
 * UPDATE with an empty MP_UNREACH_NLRI otherwise.
 */
export function endOfRib(afi: number, safi: number): Uint8Array {
  if (afi === Afi.IPV4 && safi === Safi.UNICAST) {
    return encodeMessage(MessageType.UPDATE, new Uint8Array(4));
  }
  return encodeMessage(
    MessageType.UPDATE,
    Uint8Array.of(
      0,
      0,
      0,
      6,
      AttrFlag.OPTIONAL,
      AttrType.MP_UNREACH_NLRI,
      3,
      afi >>> 8,
      afi & 0xff,
      safi,
    ),
  );
}
