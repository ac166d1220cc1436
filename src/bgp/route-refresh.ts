import { ErrorCode, MessageType, RouteRefreshErrorSubcode } from "./constants.ts";
import { encodeMessage } from "./header.ts";
import { BgpNotificationError } from "./notification-error.ts";

/** A ROUTE-REFRESH message (RFC 2918; subtype from RFC 7313). */
export interface RouteRefresh {
  readonly afi: number;
  readonly safi: number;
  /** RFC 7313: 0 normal request, 1 begin of route refresh, 2 end of route refresh. */
  readonly subtype: number;
}

/** Decode a ROUTE-REFRESH body (4 octets, or more when it carries RFC 5291 ORF entries). */
export function decodeRouteRefresh(body: Uint8Array): RouteRefresh {
  if (body.length < 4) {
    throw new BgpNotificationError(
      ErrorCode.ROUTE_REFRESH_MESSAGE,
      RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH,
      "ROUTE-REFRESH too short",
      body.slice(),
    );
  }
  return {
    afi: ((body[0] as number) << 8) | (body[1] as number),
    subtype: body[2] as number,
    safi: body[3] as number,
  };
}

/** Encode a whole ROUTE-REFRESH message. */
export function encodeRouteRefresh(afi: number, safi: number, subtype = 0): Uint8Array {
  return encodeMessage(
    MessageType.ROUTE_REFRESH,
    Uint8Array.of(afi >>> 8, afi & 0xff, subtype, safi),
  );
}
