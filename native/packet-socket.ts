import { BgpProxyError, ConfigError } from "../src/core/errors.ts";
import { type BpfInstruction, encodeBpf } from "./bpf.ts";
import { ERRNO, errnoName, SyscallError } from "./errno.ts";
import { onSignalIo } from "./io-signal.ts";
import {
  AF_PACKET,
  ETH_P_ALL,
  F_GETFL,
  F_SETFL,
  F_SETOWN,
  MSG_DONTWAIT,
  O_ASYNC,
  O_NONBLOCK,
  PACKET_STATISTICS,
  packInt,
  packSockaddrLl,
  packSockFprog,
  parseInt32,
  parseTpacketStats,
  SO_ATTACH_FILTER,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_PACKET,
  SOL_SOCKET,
} from "./kernel-structs.ts";
import { check, lastErrno, libc } from "./libc.ts";

/**
 * An AF_PACKET/SOCK_DGRAM socket (packets from the IP header on) for capturing SYNs: opened
 * without a protocol so it receives nothing until bound, given a classic-BPF filter and a
 * large receive buffer, then bound to one interface or all, non-blocking and signal-driven.
 * Failures that mean "this system cannot do it" (capabilities, kernel options) are
 * BgpProxyErrors of kind "unsupported" whose message names what is missing.
 */
export interface ReceiveBuffer {
  /** What the kernel reports (it doubles the value asked for, for bookkeeping). */
  effectiveBytes: number;
  /** True when SO_RCVBUFFORCE (CAP_NET_ADMIN) was used, false for SO_RCVBUF. */
  forced: boolean;
}

export class PacketSocket {
  private closed = false;
  private unregister?: () => void;
  private packets = 0;
  private drops = 0;

  private constructor(readonly fd: number) {}

  /** A packet socket that receives nothing yet. Needs CAP_NET_RAW. */
  static open(): PacketSocket {
    const fd = libc.socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) return new PacketSocket(fd);
    const errno = lastErrno();
    if (errno === ERRNO.EPERM || errno === ERRNO.EACCES) {
      throw new BgpProxyError(
        "unsupported",
        "missing CAP_NET_RAW: capturing SYNs needs a raw packet socket (run as root or grant CAP_NET_RAW)",
      );
    }
    if (errno === ERRNO.EAFNOSUPPORT) {
      throw new BgpProxyError(
        "unsupported",
        "the kernel has no packet sockets (built without CONFIG_PACKET)",
      );
    }
    throw new SyscallError("socket(AF_PACKET, SOCK_DGRAM)", errno, "unsupported");
  }

  /**
   * Raise the receive buffer to `bytes`: SO_RCVBUFFORCE (CAP_NET_ADMIN), or SO_RCVBUF within
   * net.core.rmem_max (Docker's default capabilities have no NET_ADMIN). Throws
   * "unsupported" when the buffer stays under `minimumBytes` (as getsockopt reports it).
   */
  setReceiveBuffer(bytes: number, minimumBytes = bytes): ReceiveBuffer {
    let forced = true;
    if (libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, packInt(bytes)) < 0) {
      const errno = lastErrno();
      if (errno !== ERRNO.EPERM) throw new SyscallError("SO_RCVBUFFORCE", errno, "unsupported");
      forced = false;
      check(libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, packInt(bytes)), "SO_RCVBUF");
    }
    const value = new Uint8Array(4);
    check(libc.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, value)[0], "getsockopt(SO_RCVBUF)");
    const effectiveBytes = parseInt32(value);
    if (effectiveBytes < minimumBytes) {
      throw new BgpProxyError(
        "unsupported",
        `missing CAP_NET_ADMIN: the SYN capture buffer needs at least ${minimumBytes} bytes ` +
          `and got ${effectiveBytes} (in Docker: docker run --cap-add NET_ADMIN; elsewhere grant ` +
          `CAP_NET_ADMIN, or raise net.core.rmem_max to at least ${bytes})`,
      );
    }
    return { effectiveBytes, forced };
  }

  attachFilter(program: readonly BpfInstruction[]): void {
    const code = encodeBpf(program);
    const fprog = packSockFprog(program.length, libc.addressOf(code));
    if (libc.setsockopt(this.fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog) < 0) {
      const errno = lastErrno();
      throw new BgpProxyError(
        "unsupported",
        `cannot attach the SYN filter to the capture socket: ${errnoName(errno)}` +
          (errno === ERRNO.ENOPROTOOPT ? " (kernel built without CONFIG_FILTER?)" : ""),
      );
    }
    // `code` must live until here: the kernel copied it during setsockopt.
    code.fill(0);
  }

  /** The index of interface `name` (0 for "any"); a config error when there is none. */
  static interfaceIndex(name: string): number {
    if (name === "any") return 0;
    const ifindex = libc.ifNameToIndex(name);
    if (ifindex === 0) {
      throw new ConfigError(`--md5-listen-interface: no interface named ${name}`);
    }
    return ifindex;
  }

  /** Start receiving: on interface `name`, or on every interface for "any". */
  bind(name: string): number {
    const ifindex = PacketSocket.interfaceIndex(name);
    check(libc.bind(this.fd, packSockaddrLl(ETH_P_ALL, ifindex)), `bind to interface ${name}`);
    return ifindex;
  }

  /** Non-blocking and signal-driven: `onReadable` runs (on the event loop) when data arrives. */
  watch(onReadable: () => void): void {
    this.unregister = onSignalIo(onReadable);
    check(libc.fcntl(this.fd, F_SETOWN, libc.getpid()), "fcntl(F_SETOWN)");
    const flags = check(libc.fcntl(this.fd, F_GETFL, 0), "fcntl(F_GETFL)");
    check(libc.fcntl(this.fd, F_SETFL, flags | O_NONBLOCK | O_ASYNC), "fcntl(F_SETFL, O_ASYNC)");
  }

  /** One packet into `buf`: its length, or undefined when none is waiting. */
  receive(buf: Uint8Array): number | undefined {
    if (this.closed) return undefined;
    const n = libc.recv(this.fd, buf, MSG_DONTWAIT);
    if (n >= 0) return n;
    const errno = lastErrno();
    if (errno === ERRNO.EAGAIN || errno === ERRNO.EINTR) return undefined;
    throw new SyscallError("recv on the SYN capture socket", errno);
  }

  /** Packets the filter accepted and packets dropped for want of buffer space, since opening. */
  statistics(): { packets: number; drops: number } {
    if (!this.closed) {
      const buf = new Uint8Array(8);
      // The kernel resets its counters on every read: accumulate.
      if (libc.getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, buf)[0] === 0) {
        const s = parseTpacketStats(buf);
        this.packets += s.packets;
        this.drops += s.drops;
      }
    }
    return { packets: this.packets, drops: this.drops };
  }

  close(): void {
    if (this.closed) return;
    this.statistics();
    this.closed = true;
    this.unregister?.();
    libc.close(this.fd);
  }
}
