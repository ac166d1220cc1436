/**
 * Hand-built IPv4/IPv6 TCP segments for parser and filter tests: headers written field by
 * field (checksums left 0: nothing here verifies them), options as given.
 */
import { ipv4Bytes, ipv6Bytes } from "../../native/kernel-structs.ts";

export interface SegmentSpec {
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte; default SYN (0x02). */
  flags?: number;
  /** Raw TCP option bytes (padded to a multiple of 4 with EOL). */
  options?: readonly number[];
  /** IPv4 only: extra header bytes (IP options), a multiple of 4. */
  ipOptions?: number;
  /** IPv4 fragment offset field (13 bits). */
  fragmentOffset?: number;
  /** IPv6 next header (default 6 = TCP). */
  nextHeader?: number;
  /** IPv4 protocol (default 6 = TCP). */
  protocol?: number;
}

export const SYN = 0x02;
export const ACK = 0x10;

/** MSS, SACK permitted, timestamps, NOP, window scale: what Linux puts in a SYN. */
export const LINUX_SYN_OPTIONS = [
  2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
];

/** A TCP-MD5 signature option (kind 19, length 18, a 16-byte digest). */
export function md5Option(fill = 0xab): number[] {
  return [19, 18, ...Array(16).fill(fill)];
}

/** A TCP-AO option (kind 29): KeyID, RNextKeyID and a 12-byte MAC. */
export function aoOption(keyId: number, rnextKeyId: number): number[] {
  return [29, 16, keyId, rnextKeyId, ...Array(12).fill(0xcd)];
}

function tcpHeader(spec: SegmentSpec): Uint8Array {
  const opts = [...(spec.options ?? [])];
  while (opts.length % 4 !== 0) opts.push(0);
  const out = new Uint8Array(20 + opts.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, spec.srcPort ?? 40_000);
  v.setUint16(2, spec.dstPort ?? 179);
  v.setUint32(4, 0x01020304);
  out[12] = (out.byteLength / 4) << 4;
  out[13] = spec.flags ?? SYN;
  v.setUint16(14, 64_240);
  out.set(opts, 20);
  return out;
}

/** A whole packet from the IP header on (what a SOCK_DGRAM packet socket reads). */
export function tcpPacket(spec: SegmentSpec): Uint8Array {
  const tcp = tcpHeader(spec);
  if (!spec.src.includes(":")) {
    const ihl = 20 + (spec.ipOptions ?? 0);
    const out = new Uint8Array(ihl + tcp.byteLength);
    const v = new DataView(out.buffer);
    out[0] = 0x40 | (ihl / 4);
    v.setUint16(2, out.byteLength);
    v.setUint16(6, (spec.fragmentOffset ?? 0) & 0x1fff);
    out[8] = 64;
    out[9] = spec.protocol ?? 6;
    out.set(ipv4Bytes(spec.src), 12);
    out.set(ipv4Bytes(spec.dst), 16);
    for (let i = 20; i < ihl; i++) out[i] = 1; // NOP IP options
    out.set(tcp, ihl);
    return out;
  }
  const out = new Uint8Array(40 + tcp.byteLength);
  const v = new DataView(out.buffer);
  out[0] = 0x60;
  v.setUint16(4, tcp.byteLength);
  out[6] = spec.nextHeader ?? 6;
  out[7] = 64;
  out.set(ipv6Bytes(spec.src), 8);
  out.set(ipv6Bytes(spec.dst), 24);
  out.set(tcp, 40);
  return out;
}
