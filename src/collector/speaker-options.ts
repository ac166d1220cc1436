import { MAX_ASN } from "../bgp/constants.ts";
import type { BgpNotification } from "../bgp/notification.ts";
import type { DecodedUpdate } from "../bgp/update.ts";
import { ipv4ToNumber } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { SpeakerState } from "./speaker-state.ts";

/** Why a session ended. */
export interface SpeakerCloseReason {
  /** Who ended it: we sent a NOTIFICATION, the peer sent one, or `close()` was called. */
  readonly kind: "notification-sent" | "notification-received" | "local";
  /** Human-readable, with the NOTIFICATION's code and subcode names when there is one. */
  readonly message: string;
  readonly notification?: BgpNotification;
}

export interface BgpSpeakerOptions {
  localAsn: number;
  /** Our BGP Identifier, dotted quad. */
  routerId: string;
  /** Seconds we propose: 0 or 3..65535; default 90. */
  holdTime?: number;
  clock: Clock;
  logger?: Logger;
  /** When given, an OPEN from any other AS is refused with Bad Peer AS (2/2). */
  peerAsn?: number;
  /** Per family: more prefixes than this ends the session with Cease/1 (RFC 4486). */
  maxPrefixes?: number;
  /** Bytes to write to the peer, in order. */
  onSend: (bytes: Uint8Array) => void;
  /** Called once when the session is over; any NOTIFICATION was passed to onSend first. */
  onClose?: (reason: SpeakerCloseReason) => void;
  onStateChange?: (from: SpeakerState, to: SpeakerState) => void;
  /** The peer finished its initial table for a family (RFC 4724 End-of-RIB). */
  onEndOfRib?: (family: "ipv4" | "ipv6") => void;
  /**
   * Where decoded UPDATEs go besides the counters (the Adj-RIB-In): `apply` per UPDATE,
   * `clear` when the session ends. Without one, nothing beyond counting is done.
   */
  rib?: { apply(update: DecodedUpdate): void; clear(): void };
  /** Told about the session as BMP reports it (src/bmp/bmp-feed.ts SessionMonitor). */
  monitor?: SpeakerMonitor;
}

export interface SpeakerMonitor {
  /** Established: both OPENs, whole messages. */
  up(opens: { receivedOpen: Uint8Array; sentOpen: Uint8Array; fourOctetAs: boolean }): void;
  /** One UPDATE from the peer, whole, and its decoding. */
  update(message: Uint8Array, decoded: DecodedUpdate): void;
  /** An Established session ended; the NOTIFICATION (whole message) if one was sent or received. */
  down(reason: { local: boolean; notification?: Uint8Array }): void;
}

/**
 * Check the options a speaker is built from; throws ConfigError for a hold time other
 * than 0 or 3..65535, an ASN outside 1..4294967295, or a bad or zero router ID.
 * Returns the hold time to propose.
 */
export function checkSpeakerOptions(options: BgpSpeakerOptions): number {
  const hold = options.holdTime ?? 90;
  if (!Number.isInteger(hold) || hold < 0 || hold > 0xffff || hold === 1 || hold === 2) {
    throw new ConfigError(`BGP hold time ${hold} must be 0 or 3..65535`);
  }
  const asnOk = (a: number) => Number.isInteger(a) && a >= 1 && a <= MAX_ASN;
  if (!asnOk(options.localAsn)) throw new ConfigError(`local ASN ${options.localAsn} invalid`);
  if (options.peerAsn !== undefined && !asnOk(options.peerAsn)) {
    throw new ConfigError(`peer ASN ${options.peerAsn} invalid`);
  }
  let id: number;
  try {
    id = ipv4ToNumber(options.routerId);
  } catch {
    throw new ConfigError(`router ID ${JSON.stringify(options.routerId)} is not an IPv4 address`);
  }
  if (id === 0) throw new ConfigError("router ID 0.0.0.0");
  if (options.maxPrefixes !== undefined && !(options.maxPrefixes >= 0)) {
    throw new ConfigError(`maxPrefixes ${options.maxPrefixes} invalid`);
  }
  return hold;
}
