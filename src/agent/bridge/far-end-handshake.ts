import { MessageType } from "../../bgp/constants.ts";
import { encodeKeepalive } from "../../bgp/keepalive.ts";
import { notificationFromError } from "../../bgp/notification.ts";
import { BgpNotificationError } from "../../bgp/notification-error.ts";
import { type BgpOpen, decodeOpen } from "../../bgp/open.ts";
import { encodeRouteRefresh } from "../../bgp/route-refresh.ts";
import { configurationChanged, endOfRib, unexpectedMessage } from "./bridge-messages.ts";
import { farEndMismatches, type SessionTerms, sessionTerms } from "./far-end-check.ts";

/**
 * A new far end's handshake while the bridge re-attaches (RFC 4271 OpenSent/OpenConfirm,
 * with the router's OPEN replayed for it): what each of its messages means, as a value the
 * bridge acts on. Pure: the bridge owns the states, the actions and the stats.
 */
export type HandshakePhase = "open-sent" | "open-confirm";

export type HandshakeOutcome =
  /** The far end refused the router's OPEN: its NOTIFICATION to the router, which is closed. */
  | { readonly kind: "refused"; readonly toRouter: Uint8Array; readonly reason: string }
  /** The far end's OPEN breaks the session's terms: a Cease to both, the session is closed. */
  | { readonly kind: "mismatch"; readonly cease: Uint8Array; readonly reason: string }
  /** The far end is dropped (after `toFarEnd`, when set); the router's session stays bridged. */
  | { readonly kind: "drop"; readonly toFarEnd?: Uint8Array; readonly reason: string }
  /** Its OPEN matches: our KEEPALIVE to it, and on to OpenConfirm. */
  | { readonly kind: "open-matches"; readonly open: BgpOpen; readonly toFarEnd: Uint8Array }
  /**
   * Its KEEPALIVE in OpenConfirm: the new far end takes the session over. End-of-RIB to it
   * first (a far end that kept the old session's routes as stale, RFC 4724, drops them), and
   * a ROUTE-REFRESH of every family to the router (RFC 2918), which sends its whole table.
   */
  | {
      readonly kind: "took-over";
      readonly toFarEnd: readonly Uint8Array[];
      readonly toRouter: readonly Uint8Array[];
    };

/** The session the new far end must match: the router's OPEN and the terms it was set up with. */
export interface HandshakeSession {
  readonly routerOpen?: BgpOpen;
  readonly terms?: SessionTerms;
}

/** What a far-end message of `type` (its bytes in `message`) means in `phase`. */
export function handshakeMessage(
  phase: HandshakePhase,
  type: number,
  message: Uint8Array | undefined,
  session: HandshakeSession,
): HandshakeOutcome {
  if (type === MessageType.NOTIFICATION && message) {
    return {
      kind: "refused",
      toRouter: message,
      reason: "the new far end refused the router's OPEN",
    };
  }
  if (phase === "open-sent" && type === MessageType.OPEN && message) {
    return farEndOpen(message, session);
  }
  if (phase === "open-confirm" && type === MessageType.KEEPALIVE) {
    const families = session.terms?.families ?? [];
    return {
      kind: "took-over",
      toFarEnd: families.map((f) => endOfRib(f.afi, f.safi)),
      toRouter: families.map((f) => encodeRouteRefresh(f.afi, f.safi)),
    };
  }
  return {
    kind: "drop",
    toFarEnd: unexpectedMessage(phase === "open-sent" ? "opensent" : "openconfirm"),
    reason: `the new far end sent message type ${type} during its handshake`,
  };
}

function farEndOpen(message: Uint8Array, session: HandshakeSession): HandshakeOutcome {
  let open: BgpOpen;
  try {
    open = decodeOpen(message.subarray(19));
  } catch (err) {
    const reason = "the new far end's OPEN is unreadable";
    if (err instanceof BgpNotificationError) {
      return { kind: "drop", toFarEnd: notificationFromError(err), reason };
    }
    return { kind: "drop", reason };
  }
  const { routerOpen, terms } = session;
  const mismatches =
    routerOpen && terms ? farEndMismatches(terms, sessionTerms(routerOpen, open)) : ["?"];
  if (mismatches.length > 0) {
    const reason = `the new far end does not match the session: ${mismatches.join("; ")}`;
    return { kind: "mismatch", cease: configurationChanged(), reason };
  }
  return { kind: "open-matches", open, toFarEnd: encodeKeepalive() };
}
