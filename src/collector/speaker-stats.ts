import { MessageType } from "../bgp/constants.ts";
import type { SpeakerState } from "./speaker-state.ts";

/** Messages by type. */
export interface MessageCounts {
  open: number;
  update: number;
  notification: number;
  keepalive: number;
  routeRefresh: number;
  total: number;
}

/** A per-family pair of numbers or flags. */
export interface PerFamily<T> {
  ipv4: T;
  ipv6: T;
}

/** A plain snapshot of one speaker session (JSON-safe). */
export interface SpeakerStats {
  state: SpeakerState;
  /** The peer's real ASN, once its OPEN arrived. */
  peerAsn?: number;
  peerRouterId?: string;
  /** Negotiated hold time in seconds once OPENs are exchanged; ours before that. */
  holdTime: number;
  /** UPDATE messages received. */
  updates: number;
  messagesIn: MessageCounts;
  messagesOut: MessageCounts;
  /** Prefixes currently held (unicast). */
  prefixes: PerFamily<number>;
  /** Prefixes announced, re-announcements included. */
  announced: PerFamily<number>;
  /** Prefixes withdrawn (RFC 7606 treat-as-withdraw included), unknown ones included. */
  withdrawn: PerFamily<number>;
  endOfRib: PerFamily<boolean>;
  /** UPDATEs handled as withdrawals under RFC 7606. */
  treatAsWithdraw: number;
  /** Malformed attributes dropped under RFC 7606 / RFC 6793. */
  attributesDiscarded: number;
  bytesIn: number;
  bytesOut: number;
  /** clock.now() when the session reached Established. */
  establishedAt?: number;
  lastError?: string;
}

/** A zeroed message counter. */
export function emptyMessageCounts(): MessageCounts {
  return { open: 0, update: 0, notification: 0, keepalive: 0, routeRefresh: 0, total: 0 };
}

/** Count one message of `type` in `counts`. */
export function countMessage(counts: MessageCounts, type: number): void {
  counts.total++;
  switch (type) {
    case MessageType.OPEN:
      counts.open++;
      break;
    case MessageType.UPDATE:
      counts.update++;
      break;
    case MessageType.NOTIFICATION:
      counts.notification++;
      break;
    case MessageType.KEEPALIVE:
      counts.keepalive++;
      break;
    case MessageType.ROUTE_REFRESH:
      counts.routeRefresh++;
      break;
  }
}
