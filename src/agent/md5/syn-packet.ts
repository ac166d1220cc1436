import { normalizeIp } from "../../core/address.ts";

/**
 * A captured TCP SYN, parsed from its IP header on (pure): addresses and ports, and whether
 * it carries a TCP-MD5 signature option (kind 19, RFC 2385) or a TCP-AO option (kind 29,
 * RFC 5925). Anything else — not IPv4/IPv6, not TCP, a fragment, ACK set, SYN clear, too
 * short — is refused with a reason. Options are read as far as they were captured and are
 * well formed.
 */
export interface SynPacket {
  family: 4 | 6;
  /** The router's address, in the agent's normalized spelling. */
  source: string;
  sourcePort: number;
  /** The agent's address the SYN was sent to. */
  destination: string;
  destinationPort: number;
  /** A TCP-MD5 signature option is present. */
  md5: boolean;
  /** The TCP-AO option's KeyID and RNextKeyID, when present. */
  ao?: { keyId: number; rnextKeyId: number };
}

export type SynParseResult = { ok: true; syn: SynPacket } | { ok: false; reason: string };

export const TCP_OPTION_MD5 = 19;
export const TCP_OPTION_AO = 29;
const MD5_OPTION_LENGTH = 18;

function fail(reason: string): SynParseResult {
  return { ok: false, reason };
}

function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipv6Text(b: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((b[at + i] ?? 0) << 8) | (b[at + i + 1] ?? 0)).toString(16));
  return normalizeIp(groups.join(":"));
}

export function parseSynPacket(packet: Uint8Array): SynParseResult {
  if (packet.byteLength < 1) return fail("empty packet");
  const version = (packet[0] ?? 0) >> 4;
  let tcpAt: number;
  let family: 4 | 6;
  let source: string;
  let destination: string;
  if (version === 4) {
    const ihl = ((packet[0] ?? 0) & 0x0f) * 4;
    if (ihl < 20) return fail("IPv4 header length below 20");
    if (packet.byteLength < ihl + 20) return fail("truncated IPv4 packet");
    if (packet[9] !== 6) return fail("not TCP");
    const fragment = (((packet[6] ?? 0) << 8) | (packet[7] ?? 0)) & 0x1fff;
    if (fragment !== 0) return fail("IPv4 fragment");
    family = 4;
    source = ipv4Text(packet, 12);
    destination = ipv4Text(packet, 16);
    tcpAt = ihl;
  } else if (version === 6) {
    if (packet.byteLength < 40 + 20) return fail("truncated IPv6 packet");
    if (packet[6] !== 6) return fail("not TCP (or IPv6 extension headers)");
    family = 6;
    source = ipv6Text(packet, 8);
    destination = ipv6Text(packet, 24);
    tcpAt = 40;
  } else {
    return fail(`IP version ${version}`);
  }
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const sourcePort = view.getUint16(tcpAt, false);
  const destinationPort = view.getUint16(tcpAt + 2, false);
  const dataOffset = ((packet[tcpAt + 12] ?? 0) >> 4) * 4;
  const flags = packet[tcpAt + 13] ?? 0;
  if (dataOffset < 20) return fail("TCP data offset below 20");
  if ((flags & 0x02) === 0) return fail("SYN not set");
  if ((flags & 0x10) !== 0) return fail("ACK set");
  const syn: SynPacket = { family, source, sourcePort, destination, destinationPort, md5: false };
  const end = Math.min(tcpAt + dataOffset, packet.byteLength);
  let at = tcpAt + 20;
  while (at < end) {
    const kind = packet[at] ?? 0;
    if (kind === 0) break;
    if (kind === 1) {
      at++;
      continue;
    }
    if (at + 1 >= end) break;
    const length = packet[at + 1] ?? 0;
    if (length < 2 || at + length > end) break;
    if (kind === TCP_OPTION_MD5 && length === MD5_OPTION_LENGTH) syn.md5 = true;
    if (kind === TCP_OPTION_AO && length >= 4) {
      syn.ao = { keyId: packet[at + 2] ?? 0, rnextKeyId: packet[at + 3] ?? 0 };
    }
    at += length;
  }
  return { ok: true, syn };
}
