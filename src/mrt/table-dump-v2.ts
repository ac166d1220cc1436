import { AttrFlag, AttrType } from "../bgp/constants.ts";
import { parseIpv4, parseIpv6 } from "../bgp/ip-address.ts";

/**
 * MRT TABLE_DUMP_V2 records (RFC 6396 §4.3), one encoder per record type, values in and
 * bytes out (no I/O):
 *
 * - `encodePeerIndexTable`: PEER_INDEX_TABLE (subtype 1), the collector's BGP ID, a view
 *   name and the peers (always with 4-octet ASNs);
 * - `encodeRibRecord`: RIB_IPV4_UNICAST (2) / RIB_IPV6_UNICAST (4), one prefix and its RIB
 *   entries (peer index, originated time, path attributes);
 * - `mrtAttributes`: a route's attributes in the form §4.3.4 asks for: AS_PATH with 4-octet
 *   ASNs, and for IPv6 an MP_REACH_NLRI holding only the next hop.
 */
export const MRT_TABLE_DUMP_V2 = 13;
export const TableDumpV2Subtype = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV6_UNICAST: 4,
} as const;

export interface MrtPeer {
  /** The peer's BGP Identifier, dotted quad. */
  readonly routerId: string;
  /** The peer's address (IPv4 or IPv6 text). */
  readonly address: string;
  readonly asn: number;
}

export interface RibEntryInput {
  readonly peerIndex: number;
  /** Seconds since the epoch. */
  readonly originatedTime: number;
  /** Path attributes, wire format (see `mrtAttributes`). */
  readonly attributes: Uint8Array;
}

const HEADER = 12;

function header(out: Uint8Array, timestamp: number, subtype: number, length: number): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(0, timestamp >>> 0);
  v.setUint16(4, MRT_TABLE_DUMP_V2);
  v.setUint16(6, subtype);
  v.setUint32(8, length);
}

/** PEER_INDEX_TABLE with its MRT header. */
export function encodePeerIndexTable(
  timestamp: number,
  collectorId: string,
  viewName: string,
  peers: readonly MrtPeer[],
): Uint8Array {
  const name = new TextEncoder().encode(viewName);
  const entries = peers.map((p) => {
    const v6 = p.address.includes(":");
    const ip = v6 ? parseIpv6(p.address) : parseIpv4(p.address);
    const e = new Uint8Array(1 + 4 + ip.length + 4);
    e[0] = (v6 ? 1 : 0) | 2; // bit 0: IPv6 address, bit 1: 4-octet AS
    e.set(parseIpv4(p.routerId), 1);
    e.set(ip, 5);
    new DataView(e.buffer).setUint32(5 + ip.length, p.asn >>> 0);
    return e;
  });
  const bodyLen = 4 + 2 + name.length + 2 + entries.reduce((n, e) => n + e.length, 0);
  const out = new Uint8Array(HEADER + bodyLen);
  header(out, timestamp, TableDumpV2Subtype.PEER_INDEX_TABLE, bodyLen);
  const v = new DataView(out.buffer);
  out.set(parseIpv4(collectorId), HEADER);
  v.setUint16(HEADER + 4, name.length);
  out.set(name, HEADER + 6);
  let pos = HEADER + 6 + name.length;
  v.setUint16(pos, peers.length);
  pos += 2;
  for (const e of entries) {
    out.set(e, pos);
    pos += e.length;
  }
  return out;
}

/**
 * RIB_IPV4_UNICAST or RIB_IPV6_UNICAST with its MRT header: the prefix is `length` bits
 * of `prefix` (its first ceil(length/8) octets are used).
 */
export function encodeRibRecord(
  timestamp: number,
  v6: boolean,
  sequence: number,
  length: number,
  prefix: Uint8Array,
  entries: readonly RibEntryInput[],
): Uint8Array {
  const n = (length + 7) >>> 3;
  const bodyLen = 4 + 1 + n + 2 + entries.reduce((s, e) => s + 8 + e.attributes.length, 0);
  const out = new Uint8Array(HEADER + bodyLen);
  header(
    out,
    timestamp,
    v6 ? TableDumpV2Subtype.RIB_IPV6_UNICAST : TableDumpV2Subtype.RIB_IPV4_UNICAST,
    bodyLen,
  );
  const v = new DataView(out.buffer);
  v.setUint32(HEADER, sequence >>> 0);
  out[HEADER + 4] = length;
  out.set(prefix.subarray(0, n), HEADER + 5);
  let pos = HEADER + 5 + n;
  v.setUint16(pos, entries.length);
  pos += 2;
  for (const e of entries) {
    v.setUint16(pos, e.peerIndex);
    v.setUint32(pos + 2, e.originatedTime >>> 0);
    v.setUint16(pos + 6, e.attributes.length);
    out.set(e.attributes, pos + 8);
    pos += 8 + e.attributes.length;
  }
  return out;
}

/**
 * A route's MRT attributes: `pathAttributes` (4-octet AS_PATH already) followed, when
 * `mpNextHop` is not empty, by an MP_REACH_NLRI holding only the next hop (§4.3.4).
 */
export function mrtAttributes(pathAttributes: Uint8Array, mpNextHop: Uint8Array): Uint8Array {
  if (mpNextHop.length === 0) return pathAttributes;
  const out = new Uint8Array(pathAttributes.length + 3 + 1 + mpNextHop.length);
  out.set(pathAttributes);
  let pos = pathAttributes.length;
  out[pos++] = AttrFlag.OPTIONAL;
  out[pos++] = AttrType.MP_REACH_NLRI;
  out[pos++] = 1 + mpNextHop.length;
  out[pos++] = mpNextHop.length;
  out.set(mpNextHop, pos);
  return out;
}
