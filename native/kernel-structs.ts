import { isIP } from "node:net";

/**
 * Linux constants and kernel structs for TCP-MD5, TCP-AO and packet capture, packed by pure
 * functions (values in, bytes out) in the machine's byte order (little endian: x86_64 and
 * arm64), network order where the kernel wants it. A unit test pins these bytes against a C
 * probe compiled with the system headers.
 */
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_PACKET = 17;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_TCP = 6;
export const SOL_SOCKET = 1;
export const SOL_PACKET = 263;
export const SO_RCVBUF = 8;
export const SO_ATTACH_FILTER = 26;
export const SO_RCVBUFFORCE = 33;
export const PACKET_STATISTICS = 6;
export const ETH_P_ALL = 0x0003;
export const MSG_DONTWAIT = 0x40;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETOWN = 8;
export const O_NONBLOCK = 0o4000;
export const O_ASYNC = 0o20000;

export const TCP_MD5SIG = 14;
export const TCP_MD5SIG_EXT = 32;
export const TCP_MD5SIG_FLAG_PREFIX = 1;
export const TCP_MD5SIG_FLAG_IFINDEX = 2;
export const TCP_MD5SIG_MAXKEYLEN = 80;
export const TCP_AO_ADD_KEY = 38;
export const TCP_AO_DEL_KEY = 39;
export const TCP_AO_MAXKEYLEN = 80;

export const SOCKADDR_STORAGE_SIZE = 128;
export const TCP_MD5SIG_SIZE = 216;
export const TCP_AO_ADD_SIZE = 288;
export const TCP_AO_DEL_SIZE = 144;
export const SOCKADDR_LL_SIZE = 20;
/** struct sock_fprog: u16 len, 6 bytes of padding, a pointer. */
export const SOCK_FPROG_SIZE = 16;

/** 4 or 6 for an IP literal; throws otherwise. */
export function ipFamily(ip: string): 4 | 6 {
  const f = isIP(ip);
  if (f === 4 || f === 6) return f;
  throw new RangeError(`not an IP address: ${JSON.stringify(ip)}`);
}

/** The 4 bytes of a dotted IPv4 address. */
export function ipv4Bytes(ip: string): Uint8Array {
  if (isIP(ip) !== 4) throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  return Uint8Array.from(ip.split(".").map(Number));
}

/** The 16 bytes of an IPv6 address (zone dropped; embedded IPv4 tail accepted). */
export function ipv6Bytes(ip: string): Uint8Array {
  const addr = ip.split("%")[0] ?? "";
  if (isIP(addr) !== 6) throw new RangeError(`not an IPv6 address: ${JSON.stringify(ip)}`);
  let text = addr;
  const tail = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (tail?.[1]) {
    const b = ipv4Bytes(tail[1]);
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    text = `${text.slice(0, -tail[1].length)}${hex(b[0] ?? 0, b[1] ?? 0)}:${hex(b[2] ?? 0, b[3] ?? 0)}`;
  }
  const [head = "", rest] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = rest ? rest.split(":") : [];
  const groups =
    rest === undefined
      ? left
      : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** ::ffff:a.b.c.d, the form an IPv4 peer takes on a dual-stack IPv6 socket. */
export function v4MappedBytes(ipv4: string): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ipv4Bytes(ipv4), 12);
  return out;
}

/**
 * struct sockaddr_in (family, port in network order, address) or struct sockaddr_in6 (family,
 * port, flowinfo 0, address, scope id) at the start of a 128-byte sockaddr_storage.
 * `v4Mapped`: an IPv4 address written as sockaddr_in6 with ::ffff:a.b.c.d.
 */
export function packSockaddrStorage(
  ip: string,
  port = 0,
  options: { v4Mapped?: boolean; scopeId?: number } = {},
): Uint8Array {
  const out = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const view = new DataView(out.buffer);
  const family = ipFamily(ip);
  if (family === 4 && !options.v4Mapped) {
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port, false);
    out.set(ipv4Bytes(ip), 4);
    return out;
  }
  view.setUint16(0, AF_INET6, true);
  view.setUint16(2, port, false);
  out.set(family === 4 ? v4MappedBytes(ip) : ipv6Bytes(ip), 8);
  view.setUint32(24, options.scopeId ?? 0, true);
  return out;
}

export interface Md5KeySpec {
  /** The peer's address (IPv4 or IPv6). */
  peer: string;
  /** The key; empty deletes the peer's key. At most 80 bytes. */
  key: Uint8Array;
  /** Peer prefix length (TCP_MD5SIG_EXT with TCP_MD5SIG_FLAG_PREFIX). */
  prefixLength?: number;
  /** Bind the key to an L3 device (VRF) index (TCP_MD5SIG_EXT with TCP_MD5SIG_FLAG_IFINDEX). */
  ifindex?: number;
  /** An IPv4 peer on a dual-stack IPv6 socket: the ::ffff:a.b.c.d form. */
  v4Mapped?: boolean;
}

/**
 * struct tcp_md5sig: sockaddr_storage tcpm_addr (128), u8 tcpm_flags, u8 tcpm_prefixlen,
 * u16 tcpm_keylen, i32 tcpm_ifindex, u8 tcpm_key[80]: 216 bytes. Returns the bytes and the
 * option to set them with (TCP_MD5SIG, or TCP_MD5SIG_EXT when a prefix or ifindex is used).
 */
export function packTcpMd5sig(spec: Md5KeySpec): { optname: number; bytes: Uint8Array } {
  if (spec.key.byteLength > TCP_MD5SIG_MAXKEYLEN) {
    throw new RangeError(`a TCP-MD5 key is at most ${TCP_MD5SIG_MAXKEYLEN} bytes`);
  }
  const out = new Uint8Array(TCP_MD5SIG_SIZE);
  out.set(packSockaddrStorage(spec.peer, 0, { v4Mapped: spec.v4Mapped }), 0);
  const view = new DataView(out.buffer);
  let flags = 0;
  if (spec.prefixLength !== undefined) {
    const max = ipFamily(spec.peer) === 4 && !spec.v4Mapped ? 32 : 128;
    const plen = spec.v4Mapped ? spec.prefixLength + 96 : spec.prefixLength;
    if (!Number.isInteger(plen) || plen < 0 || plen > max) {
      throw new RangeError(`prefix length ${spec.prefixLength} out of range`);
    }
    flags |= TCP_MD5SIG_FLAG_PREFIX;
    out[129] = plen;
  }
  if (spec.ifindex !== undefined) {
    flags |= TCP_MD5SIG_FLAG_IFINDEX;
    view.setInt32(132, spec.ifindex, true);
  }
  out[128] = flags;
  view.setUint16(130, spec.key.byteLength, true);
  out.set(spec.key, 136);
  return { optname: flags === 0 ? TCP_MD5SIG : TCP_MD5SIG_EXT, bytes: out };
}

export interface AoKeySpec {
  peer: string;
  /** The master key, at most 80 bytes. */
  key: Uint8Array;
  /** Kernel crypto algorithm, e.g. "hmac(sha1)" or "cmac(aes128)" (RFC 5926). */
  algorithm: string;
  /** KeyID we send (the peer's RNextKeyID / its receive id). */
  sendId: number;
  /** KeyID we accept (the peer's KeyID). */
  recvId: number;
  /** MAC length in bytes (12 for the RFC 5926 algorithms). */
  macLength: number;
  prefixLength?: number;
  v4Mapped?: boolean;
}

/**
 * struct tcp_ao_add (Linux 6.7+, include/uapi/linux/tcp.h): sockaddr_storage addr (128),
 * char alg_name[64], i32 ifindex, u32 set_current:1 set_rnext:1 reserved:30, u16 reserved2,
 * u8 prefix, u8 sndid, u8 rcvid, u8 maclen, u8 keyflags, u8 keylen, u8 key[80]: 288 bytes.
 */
export function packTcpAoAdd(spec: AoKeySpec): Uint8Array {
  if (spec.key.byteLength > TCP_AO_MAXKEYLEN) {
    throw new RangeError(`a TCP-AO key is at most ${TCP_AO_MAXKEYLEN} bytes`);
  }
  const alg = new TextEncoder().encode(spec.algorithm);
  if (alg.byteLength >= 64) throw new RangeError("TCP-AO algorithm name too long");
  const out = new Uint8Array(TCP_AO_ADD_SIZE);
  out.set(packSockaddrStorage(spec.peer, 0, { v4Mapped: spec.v4Mapped }), 0);
  out.set(alg, 128);
  // ifindex 0 (default VRF); set_current/set_rnext stay 0: a listening socket has no
  // current or RNext key (the kernel refuses them there).
  out[202] = aoPrefix(spec.peer, spec.prefixLength, spec.v4Mapped);
  out[203] = spec.sendId;
  out[204] = spec.recvId;
  out[205] = spec.macLength;
  out[207] = spec.key.byteLength;
  out.set(spec.key, 208);
  return out;
}

/**
 * struct tcp_ao_del: sockaddr_storage addr (128), i32 ifindex, u32 set_current:1 set_rnext:1
 * del_async:1 reserved:29, u16 reserved2, u8 prefix, u8 sndid, u8 rcvid, u8 current_key,
 * u8 rnext, u8 keyflags: 144 bytes.
 */
export function packTcpAoDel(spec: Omit<AoKeySpec, "key" | "algorithm" | "macLength">): Uint8Array {
  const out = new Uint8Array(TCP_AO_DEL_SIZE);
  out.set(packSockaddrStorage(spec.peer, 0, { v4Mapped: spec.v4Mapped }), 0);
  out[138] = aoPrefix(spec.peer, spec.prefixLength, spec.v4Mapped);
  out[139] = spec.sendId;
  out[140] = spec.recvId;
  return out;
}

function aoPrefix(peer: string, prefixLength: number | undefined, v4Mapped?: boolean): number {
  const v4 = ipFamily(peer) === 4 && !v4Mapped;
  if (prefixLength === undefined) return v4 ? 32 : 128;
  return v4Mapped ? prefixLength + 96 : prefixLength;
}

/**
 * struct sockaddr_ll for bind(2) on a packet socket: u16 family, u16 protocol (network
 * order), i32 ifindex (0 = every interface), u16 hatype, u8 pkttype, u8 halen, u8 addr[8].
 */
export function packSockaddrLl(protocol: number, ifindex: number): Uint8Array {
  const out = new Uint8Array(SOCKADDR_LL_SIZE);
  const view = new DataView(out.buffer);
  view.setUint16(0, AF_PACKET, true);
  view.setUint16(2, protocol, false);
  view.setInt32(4, ifindex, true);
  return out;
}

/** struct sock_fprog: the instruction count and the address of the instructions. */
export function packSockFprog(instructions: number, address: number): Uint8Array {
  const out = new Uint8Array(SOCK_FPROG_SIZE);
  const view = new DataView(out.buffer);
  view.setUint16(0, instructions, true);
  view.setBigUint64(8, BigInt(address), true);
  return out;
}

/** struct tpacket_stats (PACKET_STATISTICS): packets received and dropped since the last read. */
export function parseTpacketStats(bytes: Uint8Array): { packets: number; drops: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { packets: view.getUint32(0, true), drops: view.getUint32(4, true) };
}

/** An int option value (SO_RCVBUF ...). */
export function packInt(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value, true);
  return out;
}

export function parseInt32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(0, true);
}
