import { parseIpv4, parseIpv6 } from "../bgp/ip-address.ts";

/**
 * BMP messages (RFC 7854), one encoder per type, values in and bytes out (no I/O). Every
 * message is the common header (version 3, length, type) and its body; the per-peer types
 * carry the 42-octet per-peer header (global instance peer, pre-policy Adj-RIB-In).
 */
export const BMP_VERSION = 3;
export const BmpType = {
  ROUTE_MONITORING: 0,
  STATISTICS_REPORT: 1,
  PEER_DOWN: 2,
  PEER_UP: 3,
  INITIATION: 4,
  TERMINATION: 5,
} as const;

/** Peer Down reasons (§4.9). */
export const PeerDownReason = {
  LOCAL_NOTIFICATION: 1,
  LOCAL_NO_NOTIFICATION: 2,
  REMOTE_NOTIFICATION: 3,
  REMOTE_NO_NOTIFICATION: 4,
} as const;

/** Statistics types used here (§4.8). */
export const StatType = {
  ADJ_RIB_IN_ROUTES: 7,
  ADJ_RIB_IN_ROUTES_PER_AFI_SAFI: 9,
} as const;

/** The monitored peer as the per-peer header describes it. */
export interface BmpPeer {
  readonly address: string;
  readonly asn: number;
  readonly routerId: string;
  /** The session uses 2-octet AS numbers (the A flag: AS_PATH in legacy form). */
  readonly legacyAsPath: boolean;
}

const PER_PEER = 42;

/** An address in 16 octets: IPv6 as is, IPv4 in the last four (§4.2). */
function address16(text: string): Uint8Array {
  if (text.includes(":")) return parseIpv6(text);
  const out = new Uint8Array(16);
  out.set(parseIpv4(text), 12);
  return out;
}

function message(type: number, bodyLength: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(6 + bodyLength);
  const view = new DataView(out.buffer);
  out[0] = BMP_VERSION;
  view.setUint32(1, out.length);
  out[5] = type;
  return { out, view };
}

function writePerPeer(out: Uint8Array, view: DataView, peer: BmpPeer, timeMs: number): void {
  const at = 6;
  out[at] = 0; // global instance peer
  out[at + 1] = (peer.address.includes(":") ? 0x80 : 0) | (peer.legacyAsPath ? 0x20 : 0);
  // Peer distinguisher: 8 zero octets.
  out.set(address16(peer.address), at + 10);
  view.setUint32(at + 26, peer.asn >>> 0);
  out.set(parseIpv4(peer.routerId), at + 30);
  view.setUint32(at + 34, Math.floor(timeMs / 1000) >>> 0);
  view.setUint32(at + 38, Math.floor((timeMs % 1000) * 1000));
}

function tlvs(entries: readonly (readonly [number, Uint8Array])[]): Uint8Array {
  const out = new Uint8Array(entries.reduce((n, [, v]) => n + 4 + v.length, 0));
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const [type, value] of entries) {
    view.setUint16(pos, type);
    view.setUint16(pos + 2, value.length);
    out.set(value, pos + 4);
    pos += 4 + value.length;
  }
  return out;
}

/** Initiation (§4.3): sysDescr (type 1) and sysName (type 2). */
export function encodeInitiation(sysName: string, sysDescr: string): Uint8Array {
  const text = new TextEncoder();
  const body = tlvs([
    [1, text.encode(sysDescr)],
    [2, text.encode(sysName)],
  ]);
  const { out } = message(BmpType.INITIATION, body.length);
  out.set(body, 6);
  return out;
}

/** Termination (§4.5): reason 0 (administratively closed). */
export function encodeTermination(): Uint8Array {
  const { out } = message(BmpType.TERMINATION, 6);
  out.set([0, 1, 0, 2, 0, 0], 6);
  return out;
}

/** Route Monitoring (§4.6): a whole BGP UPDATE message (header included). */
export function encodeRouteMonitoring(
  peer: BmpPeer,
  timeMs: number,
  update: Uint8Array,
): Uint8Array {
  const { out, view } = message(BmpType.ROUTE_MONITORING, PER_PEER + update.length);
  writePerPeer(out, view, peer, timeMs);
  out.set(update, 6 + PER_PEER);
  return out;
}

export interface PeerUpInput {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
  /** Whole BGP OPEN messages: the one sent to the router and the router's. */
  readonly sentOpen: Uint8Array;
  readonly receivedOpen: Uint8Array;
}

/** Peer Up Notification (§4.10). */
export function encodePeerUp(peer: BmpPeer, timeMs: number, up: PeerUpInput): Uint8Array {
  const n = PER_PEER + 20 + up.sentOpen.length + up.receivedOpen.length;
  const { out, view } = message(BmpType.PEER_UP, n);
  writePerPeer(out, view, peer, timeMs);
  let pos = 6 + PER_PEER;
  out.set(address16(up.localAddress), pos);
  view.setUint16(pos + 16, up.localPort);
  view.setUint16(pos + 18, up.remotePort);
  pos += 20;
  out.set(up.sentOpen, pos);
  out.set(up.receivedOpen, pos + up.sentOpen.length);
  return out;
}

/**
 * Peer Down Notification (§4.9): `data` is the NOTIFICATION message (reasons 1 and 3), a
 * 2-octet FSM event code (reason 2), or nothing (reason 4).
 */
export function encodePeerDown(
  peer: BmpPeer,
  timeMs: number,
  reason: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const { out, view } = message(BmpType.PEER_DOWN, PER_PEER + 1 + data.length);
  writePerPeer(out, view, peer, timeMs);
  out[6 + PER_PEER] = reason;
  out.set(data, 6 + PER_PEER + 1);
  return out;
}

/** Statistics Report (§4.8): routes in the Adj-RIB-In, in total and per family (gauges). */
export function encodeStatistics(
  peer: BmpPeer,
  timeMs: number,
  routes: { readonly ipv4: number; readonly ipv6: number },
): Uint8Array {
  const gauge = (x: number) => {
    const v = new Uint8Array(8);
    new DataView(v.buffer).setBigUint64(0, BigInt(x));
    return v;
  };
  const perFamily = (afi: number, x: number) => {
    const v = new Uint8Array(11);
    const d = new DataView(v.buffer);
    d.setUint16(0, afi);
    v[2] = 1;
    d.setBigUint64(3, BigInt(x));
    return v;
  };
  const body = tlvs([
    [StatType.ADJ_RIB_IN_ROUTES, gauge(routes.ipv4 + routes.ipv6)],
    [StatType.ADJ_RIB_IN_ROUTES_PER_AFI_SAFI, perFamily(1, routes.ipv4)],
    [StatType.ADJ_RIB_IN_ROUTES_PER_AFI_SAFI, perFamily(2, routes.ipv6)],
  ]);
  const { out, view } = message(BmpType.STATISTICS_REPORT, PER_PEER + 4 + body.length);
  writePerPeer(out, view, peer, timeMs);
  view.setUint32(6 + PER_PEER, 3);
  out.set(body, 6 + PER_PEER + 4);
  return out;
}
