import { describe, expect, test } from "bun:test";
import { Afi } from "../../src/bgp/constants.ts";
import { NumericKeySet } from "../../src/collector/numeric-key-set.ts";
import { PrefixTable } from "../../src/collector/prefix-table.ts";
import { prng } from "../support/prng.ts";

describe("NumericKeySet", () => {
  test("agrees with a Set through random adds and deletes, growth and tombstones", () => {
    const rand = prng(5);
    const mine = new NumericKeySet();
    const ref = new Set<number>();
    for (let i = 0; i < 200_000; i++) {
      // few distinct keys at first (many tombstones), then a wide range (growth)
      const range = i < 50_000 ? 3_000 : 2 ** 38;
      const key = Math.floor(rand() * range);
      if (rand() < 0.6) {
        mine.add(key);
        ref.add(key);
      } else {
        mine.delete(key);
        ref.delete(key);
      }
      if (i % 10_000 === 0) expect(mine.size).toBe(ref.size);
    }
    expect(mine.size).toBe(ref.size);
    for (const key of ref) expect(mine.has(key)).toBe(true);
    expect(mine.has(0)).toBe(ref.has(0));
    mine.clear();
    expect(mine.size).toBe(0);
  });

  test("0 is a key like any other", () => {
    const s = new NumericKeySet();
    s.add(0);
    s.add(0);
    expect(s.size).toBe(1);
    expect(s.has(0)).toBe(true);
    s.delete(0);
    expect(s.has(0)).toBe(false);
  });
});

describe("PrefixTable", () => {
  test("counts exact prefixes per family, ignoring bits past the length", () => {
    const p = new PrefixTable();
    p.add(Afi.IPV4, 24, Uint8Array.from([198, 51, 100]), 0);
    p.add(Afi.IPV4, 24, Uint8Array.from([198, 51, 100, 7]), 0); // same /24
    p.add(Afi.IPV4, 0, new Uint8Array(0), 0); // default route
    p.add(Afi.IPV6, 48, Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 1]), 0);
    expect([p.ipv4, p.ipv6]).toEqual([2, 1]);
    p.remove(Afi.IPV4, 24, Uint8Array.from([198, 51, 100]), 0);
    p.remove(Afi.IPV6, 48, Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 1]), 0);
    expect([p.ipv4, p.ipv6]).toEqual([1, 0]);
  });
});
