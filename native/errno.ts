import { BgpProxyError, type ErrorKind } from "../src/core/errors.ts";

/**
 * Linux errno numbers the native layer meets, by name (the generic numbering, shared by
 * x86_64 and arm64), and the error a failed system call becomes.
 */
export const ERRNO = {
  EPERM: 1,
  ESRCH: 3,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENOBUFS: 105,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, n]) => [n, name]));

/** "EPERM", or "errno 123" for a number outside the table. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

/** A failed system call: what was attempted, and the errno it failed with. */
export class SyscallError extends BgpProxyError {
  readonly errno: number;
  readonly code: string;

  constructor(what: string, errno: number, kind: ErrorKind = "internal") {
    super(kind, `${what}: ${errnoName(errno)}`, { retryable: false });
    this.name = "SyscallError";
    this.errno = errno;
    this.code = errnoName(errno);
  }

  is(name: ErrnoName): boolean {
    return this.errno === ERRNO[name];
  }
}
