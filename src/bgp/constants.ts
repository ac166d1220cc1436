/**
 * BGP-4 protocol numbers: message types, NOTIFICATION codes and subcodes, address
 * families, path attribute type codes and flags, capability codes (RFC 4271, 4486, 4760,
 * 5492, 6608, 6793, 7313, 8538, 8654, 9072 and the IANA BGP registries).
 */

export const BGP_VERSION = 4;
/** The all-ones marker that opens every message. */
export const MARKER_LENGTH = 16;
/** Marker, 2-octet length, 1-octet type. */
export const HEADER_LENGTH = 19;
/** RFC 4271 maximum message size; RFC 8654 raises it to 65535 when negotiated. */
export const MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654 limit (we never advertise the capability). */
export const EXTENDED_MAX_MESSAGE_LENGTH = 65535;
/** RFC 6793: the 2-octet placeholder for a 4-octet AS number. */
export const AS_TRANS = 23456;
/** Largest 4-octet AS number. */
export const MAX_ASN = 0xffffffff;
/** RFC 4271 §4.2: until OPEN arrives the hold timer is set to "a large value" (4 minutes). */
export const LARGE_HOLD_TIME = 240;

/** Message types (RFC 4271 §4.1, RFC 2918). */
export const MessageType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Smallest valid total length (header included) per message type. */
export const MIN_MESSAGE_LENGTH: Readonly<Record<MessageType, number>> = {
  [MessageType.OPEN]: 29,
  [MessageType.UPDATE]: 23,
  [MessageType.NOTIFICATION]: 21,
  [MessageType.KEEPALIVE]: 19,
  [MessageType.ROUTE_REFRESH]: 23,
};

const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: "OPEN",
  2: "UPDATE",
  3: "NOTIFICATION",
  4: "KEEPALIVE",
  5: "ROUTE-REFRESH",
};

/** "UPDATE", "KEEPALIVE" ... or "type N" for an unknown type. */
export function messageTypeName(type: number): string {
  return MESSAGE_TYPE_NAMES[type] ?? `type ${type}`;
}

/** NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313). */
export const ErrorCode = {
  MESSAGE_HEADER: 1,
  OPEN_MESSAGE: 2,
  UPDATE_MESSAGE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH_MESSAGE: 7,
} as const;

/** Message Header Error subcodes (RFC 4271 §6.1). */
export const HeaderErrorSubcode = {
  UNSPECIFIC: 0,
  CONNECTION_NOT_SYNCHRONIZED: 1,
  BAD_MESSAGE_LENGTH: 2,
  BAD_MESSAGE_TYPE: 3,
} as const;

/** OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492, RFC 9234). */
export const OpenErrorSubcode = {
  UNSPECIFIC: 0,
  UNSUPPORTED_VERSION_NUMBER: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
  ROLE_MISMATCH: 11,
} as const;

/** UPDATE Message Error subcodes (RFC 4271 §6.3). */
export const UpdateErrorSubcode = {
  UNSPECIFIC: 0,
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2,
  MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4,
  ATTRIBUTE_LENGTH_ERROR: 5,
  INVALID_ORIGIN_ATTRIBUTE: 6,
  INVALID_NEXT_HOP_ATTRIBUTE: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;

/** RFC 6608. */
export const FsmErrorSubcode = {
  UNSPECIFIED: 0,
  UNEXPECTED_MESSAGE_IN_OPENSENT: 1,
  UNEXPECTED_MESSAGE_IN_OPENCONFIRM: 2,
  UNEXPECTED_MESSAGE_IN_ESTABLISHED: 3,
} as const;

/** RFC 4486, RFC 8538 (Hard Reset), RFC 9384 (BFD Down). */
export const CeaseSubcode = {
  UNSPECIFIC: 0,
  MAXIMUM_PREFIXES_REACHED: 1,
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIGURATION_CHANGE: 6,
  CONNECTION_COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
  HARD_RESET: 9,
  BFD_DOWN: 10,
} as const;

/** RFC 7313. */
export const RouteRefreshErrorSubcode = {
  INVALID_MESSAGE_LENGTH: 1,
} as const;

const ERROR_CODE_NAMES: Readonly<Record<number, string>> = {
  1: "Message Header Error",
  2: "OPEN Message Error",
  3: "UPDATE Message Error",
  4: "Hold Timer Expired",
  5: "Finite State Machine Error",
  6: "Cease",
  7: "ROUTE-REFRESH Message Error",
};

const ERROR_SUBCODE_NAMES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  1: {
    1: "Connection Not Synchronized",
    2: "Bad Message Length",
    3: "Bad Message Type",
  },
  2: {
    1: "Unsupported Version Number",
    2: "Bad Peer AS",
    3: "Bad BGP Identifier",
    4: "Unsupported Optional Parameter",
    5: "Authentication Failure (deprecated)",
    6: "Unacceptable Hold Time",
    7: "Unsupported Capability",
    11: "Role Mismatch",
  },
  3: {
    1: "Malformed Attribute List",
    2: "Unrecognized Well-known Attribute",
    3: "Missing Well-known Attribute",
    4: "Attribute Flags Error",
    5: "Attribute Length Error",
    6: "Invalid ORIGIN Attribute",
    7: "AS Routing Loop (deprecated)",
    8: "Invalid NEXT_HOP Attribute",
    9: "Optional Attribute Error",
    10: "Invalid Network Field",
    11: "Malformed AS_PATH",
  },
  5: {
    1: "Receive Unexpected Message in OpenSent State",
    2: "Receive Unexpected Message in OpenConfirm State",
    3: "Receive Unexpected Message in Established State",
  },
  6: {
    1: "Maximum Number of Prefixes Reached",
    2: "Administrative Shutdown",
    3: "Peer De-configured",
    4: "Administrative Reset",
    5: "Connection Rejected",
    6: "Other Configuration Change",
    7: "Connection Collision Resolution",
    8: "Out of Resources",
    9: "Hard Reset",
    10: "BFD Down",
  },
  7: { 1: "Invalid Message Length" },
};

/** Name of a NOTIFICATION error code, e.g. "Cease"; "error code N" when unknown. */
export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `error code ${code}`;
}

/** Name of a NOTIFICATION subcode; "Unspecific" for 0, "subcode N" when unknown. */
export function errorSubcodeName(code: number, subcode: number): string {
  if (subcode === 0) return "Unspecific";
  return ERROR_SUBCODE_NAMES[code]?.[subcode] ?? `subcode ${subcode}`;
}

/** "Cease/Administrative Shutdown (6/2)": the form used in logs and close reasons. */
export function describeError(code: number, subcode: number): string {
  return `${errorCodeName(code)}/${errorSubcodeName(code, subcode)} (${code}/${subcode})`;
}

/** Address Family Identifiers (RFC 4760). */
export const Afi = { IPV4: 1, IPV6: 2 } as const;
export type Afi = (typeof Afi)[keyof typeof Afi];

/** Subsequent Address Family Identifiers (RFC 4760 and the IANA registry). */
export const Safi = {
  UNICAST: 1,
  MULTICAST: 2,
  MPLS_LABEL: 4,
  MPLS_VPN: 128,
  FLOWSPEC: 133,
} as const;

/** Path attribute flag bits (RFC 4271 §4.3). */
export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

/** Path attribute type codes. */
export const AttrType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  LARGE_COMMUNITIES: 32,
} as const;

/** ORIGIN values. */
export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;

/** AS_PATH segment types (RFC 4271, RFC 5065). */
export const AsPathSegmentType = {
  AS_SET: 1,
  AS_SEQUENCE: 2,
  AS_CONFED_SEQUENCE: 3,
  AS_CONFED_SET: 4,
} as const;

/** OPEN optional parameter types (RFC 5492; 255 is RFC 9072's extended-length marker). */
export const OptionalParameterType = {
  CAPABILITIES: 2,
  EXTENDED_LENGTH: 255,
} as const;

/** Capability codes (RFC 5492 and the IANA registry). */
export const CapabilityCode = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  OUTBOUND_ROUTE_FILTERING: 3,
  EXTENDED_NEXT_HOP: 5,
  EXTENDED_MESSAGE: 6,
  BGP_ROLE: 9,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
  ADD_PATH: 69,
  ENHANCED_ROUTE_REFRESH: 70,
  LONG_LIVED_GRACEFUL_RESTART: 71,
  FQDN: 73,
  ROUTE_REFRESH_OLD: 128,
} as const;
