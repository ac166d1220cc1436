import { describe, expect, test } from "bun:test";
import { DEFAULT_BLOCK_TTL_SECONDS, DenyList } from "../../src/agent/deny-list.ts";
import { ManualClock } from "../support/manual-clock.ts";

function setup(): { clock: ManualClock; list: DenyList } {
  const clock = new ManualClock();
  return { clock, list: new DenyList(() => clock.now()) };
}

describe("DenyList", () => {
  test("block() is true only for a new block", () => {
    const { clock, list } = setup();
    expect(list.isBlocked("192.0.2.1")).toBe(false);
    expect(list.block("192.0.2.1", 10)).toBe(true);
    expect(list.block("192.0.2.1", 10)).toBe(false);
    expect(list.block("192.0.2.2", 10)).toBe(true);
    clock.advance(10_000);
    expect(list.block("192.0.2.1", 10)).toBe(true);
  });

  test("a block expires exactly at its TTL", () => {
    const { clock, list } = setup();
    list.block("192.0.2.1", 30);
    clock.advance(29_999);
    expect(list.isBlocked("192.0.2.1")).toBe(true);
    expect(list.ttlOf("192.0.2.1")).toBe(30);
    clock.advance(1);
    expect(list.isBlocked("192.0.2.1")).toBe(false);
    expect(list.ttlOf("192.0.2.1")).toBeUndefined();
  });

  test("TTL 0 (or less) means the reference default of 1200 s", () => {
    const { clock, list } = setup();
    expect(DEFAULT_BLOCK_TTL_SECONDS).toBe(1200);
    list.block("192.0.2.1", 0);
    list.block("192.0.2.2", -5);
    expect(list.ttlOf("192.0.2.1")).toBe(1200);
    expect(list.ttlOf("192.0.2.2")).toBe(1200);
    clock.advance(1_199_999);
    expect(list.isBlocked("192.0.2.1")).toBe(true);
    clock.advance(1);
    expect(list.isBlocked("192.0.2.1")).toBe(false);
    expect(list.isBlocked("192.0.2.2")).toBe(false);
  });

  test("re-blocking extends the block from now, with the new TTL", () => {
    const { clock, list } = setup();
    list.block("192.0.2.1", 10);
    clock.advance(8_000);
    list.block("192.0.2.1", 20);
    expect(list.ttlOf("192.0.2.1")).toBe(20);
    clock.advance(19_999); // 27.999 s after the first block, 2 s past its original end
    expect(list.isBlocked("192.0.2.1")).toBe(true);
    clock.advance(1);
    expect(list.isBlocked("192.0.2.1")).toBe(false);
  });

  test("unblock() lifts a block at once; other addresses are untouched", () => {
    const { list } = setup();
    list.block("192.0.2.1", 60);
    list.block("2001:db8::1", 60);
    list.unblock("192.0.2.1");
    expect(list.isBlocked("192.0.2.1")).toBe(false);
    expect(list.isBlocked("2001:db8::1")).toBe(true);
    expect(list.block("192.0.2.1", 60)).toBe(true);
  });

  test("size counts only active blocks and prunes the expired ones", () => {
    const { clock, list } = setup();
    list.block("192.0.2.1", 10);
    list.block("192.0.2.2", 20);
    list.block("192.0.2.3", 30);
    expect(list.size).toBe(3);
    clock.advance(10_000);
    expect(list.size).toBe(2);
    clock.advance(10_000);
    expect(list.prune()).toBe(1);
    clock.advance(10_000);
    expect(list.size).toBe(0);
  });
});
