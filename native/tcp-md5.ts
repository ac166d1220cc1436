import { BgpProxyError } from "../src/core/errors.ts";
import { ERRNO, SyscallError } from "./errno.ts";
import {
  AF_INET,
  type AoKeySpec,
  IPPROTO_TCP,
  type Md5KeySpec,
  packTcpAoAdd,
  packTcpAoDel,
  packTcpMd5sig,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  TCP_AO_ADD_KEY,
  TCP_AO_ADD_SIZE,
  TCP_AO_DEL_KEY,
} from "./kernel-structs.ts";
import { lastErrno, libc } from "./libc.ts";

/**
 * TCP-MD5 (RFC 2385) and TCP-AO (RFC 5925) keys on sockets: set, replace and delete a peer's
 * key with setsockopt, and the start-up probes that tell whether the kernel has either.
 * The key bytes never appear in an error message.
 */
export const TCP_MD5_MISSING =
  "the kernel has no TCP-MD5 (built without CONFIG_TCP_MD5SIG; stock OpenWrt kernels lack it)";

/** Install or replace `spec.peer`'s key on socket `fd` (a listening socket, typically). */
export function setTcpMd5Key(fd: number, spec: Md5KeySpec): void {
  if (spec.key.byteLength === 0)
    throw new RangeError("an empty TCP-MD5 key deletes; use deleteTcpMd5Key");
  const { optname, bytes } = packTcpMd5sig(spec);
  if (libc.setsockopt(fd, IPPROTO_TCP, optname, bytes) < 0) {
    const errno = lastErrno();
    if (errno === ERRNO.ENOPROTOOPT) throw new BgpProxyError("unsupported", TCP_MD5_MISSING);
    throw new SyscallError(`TCP_MD5SIG for ${spec.peer}`, errno);
  }
}

/** Remove `peer`'s key from socket `fd` (keylen 0). A key that is not there is not an error. */
export function deleteTcpMd5Key(fd: number, spec: Omit<Md5KeySpec, "key">): void {
  const { optname, bytes } = packTcpMd5sig({ ...spec, key: new Uint8Array(0) });
  if (libc.setsockopt(fd, IPPROTO_TCP, optname, bytes) < 0) {
    const errno = lastErrno();
    if (errno !== ERRNO.ENOENT) throw new SyscallError(`TCP_MD5SIG delete for ${spec.peer}`, errno);
  }
}

/**
 * Whether the kernel takes a TCP-MD5 key: one is set on a throwaway socket. Throws a
 * BgpProxyError of kind "unsupported" naming what is missing.
 */
export function probeTcpMd5(): void {
  const fd = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError("socket(AF_INET, SOCK_STREAM)", lastErrno(), "unsupported");
  try {
    const { optname, bytes } = packTcpMd5sig({
      peer: "127.0.0.1",
      key: new TextEncoder().encode("probe"),
    });
    if (libc.setsockopt(fd, IPPROTO_TCP, optname, bytes) < 0) {
      const errno = lastErrno();
      if (errno === ERRNO.ENOPROTOOPT) throw new BgpProxyError("unsupported", TCP_MD5_MISSING);
      throw new SyscallError("TCP_MD5SIG on a test socket", errno, "unsupported");
    }
  } finally {
    libc.close(fd);
  }
}

export const TCP_AO_MISSING =
  "TCP-AO unavailable on this kernel (needs Linux 6.7+ built with CONFIG_TCP_AO)";

export type TcpAoSupport = "available" | "unavailable on this kernel";

/**
 * Whether the kernel has TCP-AO (Linux 6.7+ with CONFIG_TCP_AO): TCP_AO_ADD_KEY with an
 * all-zero struct is refused with ENOPROTOOPT when the option does not exist, and with
 * another error (the zero address family is invalid) when it does.
 */
export function probeTcpAo(): TcpAoSupport {
  const fd = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "unavailable on this kernel";
  try {
    const r = libc.setsockopt(fd, IPPROTO_TCP, TCP_AO_ADD_KEY, new Uint8Array(TCP_AO_ADD_SIZE));
    return r < 0 && lastErrno() === ERRNO.ENOPROTOOPT ? "unavailable on this kernel" : "available";
  } finally {
    libc.close(fd);
  }
}

/** Install a TCP-AO master key for `spec.peer` on socket `fd`. */
export function addTcpAoKey(fd: number, spec: AoKeySpec): void {
  if (libc.setsockopt(fd, IPPROTO_TCP, TCP_AO_ADD_KEY, packTcpAoAdd(spec)) < 0) {
    const errno = lastErrno();
    if (errno === ERRNO.ENOPROTOOPT) throw new BgpProxyError("unsupported", TCP_AO_MISSING);
    throw new SyscallError(`TCP_AO_ADD_KEY for ${spec.peer}`, errno);
  }
}

/** Remove a TCP-AO key (by peer and key ids) from socket `fd`; a missing key is not an error. */
export function deleteTcpAoKey(
  fd: number,
  spec: Omit<AoKeySpec, "key" | "algorithm" | "macLength">,
): void {
  if (libc.setsockopt(fd, IPPROTO_TCP, TCP_AO_DEL_KEY, packTcpAoDel(spec)) < 0) {
    const errno = lastErrno();
    if (errno !== ERRNO.ENOENT) throw new SyscallError(`TCP_AO_DEL_KEY for ${spec.peer}`, errno);
  }
}
