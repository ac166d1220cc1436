import { dlopen, type Pointer, ptr, read } from "bun:ffi";
import { BgpProxyError } from "../src/core/errors.ts";
import { SyscallError } from "./errno.ts";

/**
 * The C library, loaded once through bun:ffi: glibc ("libc.so.6") or musl (Alpine, OpenWrt:
 * "libc.musl-<arch>.so.1", or the dynamic loader "/lib/ld-musl-<arch>.so.1", which is musl's
 * libc). Only the handful of calls the native layer needs; each wrapper returns the C result
 * and `lastErrno()` reads errno right after a failure (both libcs export __errno_location).
 * Nothing here runs before a caller asks for it: an agent without TCP-MD5 never loads libc.
 */
const SYMBOLS = {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "buffer", "u32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "buffer", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "buffer", "buffer"], returns: "i32" },
  recv: { args: ["i32", "buffer", "u64", "i32"], returns: "i64" },
  // fcntl is variadic; an integer third argument is passed like a fixed one on x86_64 and
  // arm64 Linux (System V and AAPCS64), which is all this project builds for.
  fcntl: { args: ["i32", "i32", "i64"], returns: "i32" },
  getpid: { args: [], returns: "i32" },
  // Linux applies it to one thread when given a thread id (native/thread-scheduling.ts).
  sched_setscheduler: { args: ["i32", "i32", "buffer"], returns: "i32" },
  sched_getscheduler: { args: ["i32"], returns: "i32" },
  if_nametoindex: { args: ["cstring"], returns: "u32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

type LibcSymbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

function archName(): string {
  if (process.arch === "x64") return "x86_64";
  if (process.arch === "arm64") return "aarch64";
  return process.arch;
}

/** Library names to try, glibc first. */
export function libcCandidates(arch = archName()): string[] {
  return [
    "libc.so.6",
    `libc.musl-${arch}.so.1`,
    `/lib/libc.musl-${arch}.so.1`,
    `/lib/ld-musl-${arch}.so.1`,
    "libc.so",
  ];
}

let loaded: { symbols: LibcSymbols; name: string } | undefined;

function load(): { symbols: LibcSymbols; name: string } {
  if (loaded) return loaded;
  if (process.platform !== "linux") {
    throw new BgpProxyError("unsupported", `the native layer needs Linux, not ${process.platform}`);
  }
  const tried: string[] = [];
  for (const name of libcCandidates()) {
    try {
      loaded = { symbols: dlopen(name, SYMBOLS).symbols, name };
      return loaded;
    } catch {
      tried.push(name);
    }
  }
  throw new BgpProxyError(
    "unsupported",
    `cannot load the C library through bun:ffi (tried ${tried.join(", ")})`,
  );
}

/** Which library was loaded ("libc.so.6", ...); loads it if needed. */
export function libcName(): string {
  return load().name;
}

/** errno of the last failed call on this thread. */
export function lastErrno(): number {
  const at = load().symbols.__errno_location() as Pointer | null;
  return at === null ? 0 : read.i32(at);
}

/** Throw a SyscallError when `result` < 0 (errno read at once); else return it. */
export function check(result: number, what: string): number {
  if (result < 0) throw new SyscallError(what, lastErrno());
  return result;
}

export const libc = {
  socket: (domain: number, type: number, protocol: number): number =>
    load().symbols.socket(domain, type, protocol),
  bind: (fd: number, addr: Uint8Array): number => load().symbols.bind(fd, addr, addr.byteLength),
  close: (fd: number): number => load().symbols.close(fd),
  setsockopt: (fd: number, level: number, name: number, value: Uint8Array): number =>
    load().symbols.setsockopt(fd, level, name, value, value.byteLength),
  /** getsockopt into `value`; returns [result, length the kernel wrote]. */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array): [number, number] {
    const len = new Uint32Array([value.byteLength]);
    const r = load().symbols.getsockopt(fd, level, name, value, len);
    return [r, len[0] ?? 0];
  },
  recv: (fd: number, buf: Uint8Array, flags: number): number =>
    Number(load().symbols.recv(fd, buf, BigInt(buf.byteLength), flags)),
  fcntl: (fd: number, cmd: number, arg: number): number =>
    load().symbols.fcntl(fd, cmd, BigInt(arg)),
  getpid: (): number => load().symbols.getpid(),
  /** sched_setscheduler(tid, policy, { sched_priority }); 0 or -1 (errno). */
  schedSetScheduler: (tid: number, policy: number, priority = 0): number =>
    load().symbols.sched_setscheduler(tid, policy, new Int32Array([priority])),
  schedGetScheduler: (tid: number): number => load().symbols.sched_getscheduler(tid),
  ifNameToIndex: (name: string): number => load().symbols.if_nametoindex(name),
  /** The address of `view`'s bytes, for structs that hold a pointer (sock_fprog). */
  addressOf: (view: Uint8Array): number => ptr(view),
};
