import { CeaseSubcode, ErrorCode, FsmErrorSubcode } from "../../bgp/constants.ts";
import { encodeNotification, shutdownCommunication } from "../../bgp/notification.ts";

/** The NOTIFICATIONs the BGP bridge writes itself, whole messages. */

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
