import { describe, expect, test } from "bun:test";
import { sha256Hex } from "../../src/core/sha256.ts";
import { DEFAULT_LOGIN_LIMITS, LoginGuard, peerSource } from "../../src/gateway/login-guard.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const ACCOUNTS = [{ email: "a@b.c", tokenSha256: sha256Hex("good"), companyId: 1 }];
const bad = { email: "a@b.c", token: "bad" };
const good = { email: "a@b.c", token: "good" };

describe("LoginGuard", () => {
  test("the source of a grpc-js peer string", () => {
    expect(peerSource("ipv4:192.0.2.1:5000")).toBe("192.0.2.1");
    expect(peerSource("192.0.2.1:5000")).toBe("192.0.2.1");
    expect(peerSource("ipv6:[2001:db8::1]:5000")).toBe("2001:db8::1");
    expect(peerSource("[::1]:80")).toBe("::1");
    expect(peerSource("2001:db8::1:5000")).toBe("2001:db8::1");
    expect(peerSource("::ffff:127.0.0.1:5000")).toBe("::ffff:127.0.0.1");
  });

  test("blocks an address after N failures, doubling each block; others are unaffected", () => {
    const clock = new ManualClock();
    const g = new LoginGuard(ACCOUNTS, captureLogs().logger, clock, {
      ...DEFAULT_LOGIN_LIMITS,
      maxFailures: 3,
      blockMs: 1_000,
    });
    const p = "ipv4:192.0.2.1:1";
    for (let i = 0; i < 3; i++) expect(g.login(bad, p).kind).toBe("invalid");
    expect(g.login(good, p)).toEqual({ kind: "throttled", retryAfterMs: 1_000 });
    expect(g.login(good, "ipv4:192.0.2.2:1").kind).toBe("ok");
    clock.advance(1_000);
    for (let i = 0; i < 3; i++) expect(g.login(bad, p).kind).toBe("invalid");
    expect(g.login(good, p)).toEqual({ kind: "throttled", retryAfterMs: 2_000 });
    clock.advance(2_000);
    expect(g.login(good, p).kind).toBe("ok");
    // A good login cleared the count: the next block is short again.
    for (let i = 0; i < 3; i++) g.login(bad, p);
    expect(g.login(good, p)).toEqual({ kind: "throttled", retryAfterMs: 1_000 });
  });
});
