import { describe, expect, test } from "bun:test";
import { ERRNO, errnoName, SyscallError } from "../../native/errno.ts";
import { check, lastErrno, libc, libcCandidates, libcName } from "../../native/libc.ts";

describe("libc (native/libc.ts)", () => {
  test("glibc is tried first, then musl's names for the architecture", () => {
    expect(libcCandidates("x86_64")).toEqual([
      "libc.so.6",
      "libc.musl-x86_64.so.1",
      "/lib/libc.musl-x86_64.so.1",
      "/lib/ld-musl-x86_64.so.1",
      "libc.so",
    ]);
    expect(libcCandidates("aarch64")).toContain("/lib/ld-musl-aarch64.so.1");
  });

  test.skipIf(process.platform !== "linux")(
    "loads on this machine and reads errno after a failed call",
    () => {
      expect(libcCandidates()).toContain(libcName());
      expect(libc.close(-1)).toBe(-1);
      expect(lastErrno()).toBe(ERRNO.EBADF);
      expect(libc.ifNameToIndex("lo")).toBeGreaterThan(0);
      expect(libc.ifNameToIndex("no-such-if-0")).toBe(0);
      expect(libc.getpid()).toBe(process.pid);
    },
  );

  test.skipIf(process.platform !== "linux")(
    "check() turns a failure into a typed SyscallError",
    () => {
      let err: unknown;
      try {
        check(libc.close(-1), "close(-1)");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SyscallError);
      expect((err as SyscallError).message).toBe("close(-1): EBADF");
      expect((err as SyscallError).is("EBADF")).toBe(true);
      expect((err as SyscallError).retryable).toBe(false);
      expect(check(0, "fine")).toBe(0);
    },
  );

  test("errno names", () => {
    expect(errnoName(92)).toBe("ENOPROTOOPT");
    expect(errnoName(1)).toBe("EPERM");
    expect(errnoName(4242)).toBe("errno 4242");
  });
});
