import { describe, expect, test } from "bun:test";
import { Afi } from "../../src/bgp/constants.ts";
import {
  BucketKeySet,
  bucketSetBytes,
  MIN_BUCKET_BITS,
} from "../../src/collector/bucket-key-set.ts";
import { PairKeySet } from "../../src/collector/pair-key-set.ts";
import { PrefixTable } from "../../src/collector/prefix-table.ts";
import { QUEUE_FROM } from "../../src/collector/queued-key-set.ts";
import {
  BITMAP_SLACK,
  BUCKET_SLACK,
  MAX_BITMAP_BITS,
  WordKeySet,
} from "../../src/collector/word-key-set.ts";
import { prng } from "../support/prng.ts";

const MiB = 1024 * 1024;

/** MurmurHash3's finalizer, as the key sets place keys (the wrap-around tests need it). */
function fmix(key: number): number {
  let h = Math.imul(key ^ (key >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

describe("WordKeySet", () => {
  for (const bits of [0, 3, 9, 12, 16, 20, 24, 28, 32]) {
    test(`agrees with a Set through random adds and deletes (${bits} bits)`, () => {
      const rand = prng(100 + bits);
      const mine = new WordKeySet(bits);
      const ref = new Set<number>();
      const space = 2 ** bits;
      // Phases: a narrow range (long probe runs, many deletes), then a wide one (growth,
      // and for ≤ 24 bits the switch to the bitmap), then mostly deletes.
      for (let i = 0; i < 120_000; i++) {
        const narrow = i < 30_000;
        const range = Math.min(space, narrow ? 600 : 70_000);
        let key = Math.floor(rand() * range);
        // Spread the wide phase over the whole key space, ends included.
        if (!narrow && range < space) key = Math.floor((key / range) * space);
        if (rand() < 0.02) key = rand() < 0.5 ? 0 : space - 1;
        const addIt = i < 90_000 ? rand() < 0.6 : rand() < 0.2;
        if (addIt) expect(mine.add(key)).toBe(!ref.has(key));
        else expect(mine.delete(key)).toBe(ref.has(key));
        if (addIt) ref.add(key);
        else ref.delete(key);
        if (i % 5_000 === 0) {
          expect(mine.size).toBe(ref.size);
          const probe = Math.floor(rand() * space);
          expect(mine.has(probe)).toBe(ref.has(probe));
        }
      }
      expect(mine.size).toBe(ref.size);
      for (const key of ref) expect(mine.has(key)).toBe(true);
      for (let i = 0; i < 2_000; i++) {
        const key = Math.floor(rand() * space);
        expect(mine.has(key)).toBe(ref.has(key));
      }
      for (const key of [...ref]) expect(mine.delete(key)).toBe(true);
      expect(mine.size).toBe(0);
      expect(mine.has(0)).toBe(false);
    });
  }

  test("deletes keep every key findable when probe runs wrap around the table's end", () => {
    // 16 slots while at most 8 keys: keys whose home slot is 13, 14, 15 or 0 make runs wrap.
    const home = (k: number) => fmix(k) >>> 28; // WordKeySet's slot in 16 slots
    const keys: number[] = [];
    for (let k = 1; keys.length < 40; k++) if ([13, 14, 15, 0].includes(home(k))) keys.push(k);
    const rand = prng(3);
    for (let round = 0; round < 3_000; round++) {
      const mine = new WordKeySet(32);
      const ref = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const key = keys[Math.floor(rand() * keys.length)] as number;
        if (ref.size < 8 && rand() < 0.6) {
          mine.add(key);
          ref.add(key);
        } else {
          expect(mine.delete(key)).toBe(ref.has(key));
          ref.delete(key);
        }
        for (const k of keys) expect(mine.has(k)).toBe(ref.has(k));
      }
    }
  });

  for (const bits of [16, 24, 32]) {
    test(`queued adds (addLater) count and answer as immediate ones (${bits} bits)`, () => {
      const rand = prng(700 + bits);
      const mine = new WordKeySet(bits);
      const ref = new Set<number>();
      const space = 2 ** bits;
      let counted = 0;
      for (let i = 0; i < 60_000; i++) {
        // Repeats (a narrow range at first), deletes of queued keys, reads in between.
        const key = Math.floor(rand() * Math.min(space, i < 20_000 ? 9_000 : space));
        const r = rand();
        if (r < 0.85) {
          counted += mine.addLater(key);
          ref.add(key);
        } else if (r < 0.95) {
          counted += mine.flush();
          if (mine.delete(key)) counted--;
          ref.delete(key);
        } else {
          expect(mine.has(key)).toBe(ref.has(key));
        }
        if (i % 7_000 === 0) {
          counted += mine.flush();
          expect(mine.pending).toBe(false);
          expect(counted).toBe(ref.size);
        }
      }
      expect(ref.size).toBeGreaterThan(QUEUE_FROM);
      counted += mine.flush();
      expect([counted, mine.size]).toEqual([ref.size, ref.size]);
      for (const key of ref) expect(mine.has(key)).toBe(true);
    });
  }

  test("turns into a bitmap only once that is at most BITMAP_SLACK times the hash", () => {
    const s = new WordKeySet(14); // too few bits for buckets; bitmap: 2 KiB
    for (let k = 1; k <= 48; k++) s.add(k * 331);
    // 48 keys fill 64 slots (256 bytes) to 3/4; the next doubling (512 bytes) would be a
    // quarter of the bitmap: the bitmap instead.
    expect(s.bytes).toBe(2048 / BITMAP_SLACK / 2);
    s.add(49 * 331);
    expect(s.bytes).toBe(2 ** 14 / 8);
    const wide = new WordKeySet(MAX_BITMAP_BITS + 1); // never buckets nor a bitmap
    for (let k = 0; k < 40_000; k++) wide.add(k * 811);
    expect(wide.bytes).toBe(4 * 2 ** 16); // 40,000 keys at most 3/4 full
  });

  test("passes through the bucket set (half the bitmap) before the bitmap", () => {
    const rand = prng(11);
    const s = new WordKeySet(20); // buckets: 64 KiB, bitmap: 128 KiB
    const keys = new Set<number>();
    const addRandom = () => {
      const k = Math.floor(rand() * 2 ** 20);
      expect(s.add(k)).toBe(!keys.has(k));
      keys.add(k);
    };
    // 3,072 keys fill 4,096 slots (16 KiB) to 3/4; the next doubling (32 KiB) would be half
    // the bucket set (BUCKET_SLACK 2): the bucket set instead.
    while (keys.size < 3_072) addRandom();
    expect(s.bytes).toBe(bucketSetBytes(20) / BUCKET_SLACK / 2);
    while (keys.size < 3_073) addRandom();
    expect(s.bytes).toBe(bucketSetBytes(20));
    // ~12 keys a bucket of 15: a few overflow, still smaller than the bitmap.
    while (keys.size < 50_000) addRandom();
    expect(s.bytes).toBeGreaterThan(bucketSetBytes(20));
    expect(s.bytes).toBeLessThan(2 ** 20 / 8);
    while (s.bytes !== 2 ** 20 / 8) addRandom(); // overfull: the bitmap
    expect(keys.size).toBeLessThan(80_000);
    expect(s.size).toBe(keys.size);
    for (const k of keys) expect(s.has(k)).toBe(true);
  });
});

describe("BucketKeySet", () => {
  for (const bits of [MIN_BUCKET_BITS, 20, 24]) {
    test(`agrees with a Set through adds and deletes, bunched keys overflowing (${bits} bits)`, () => {
      const rand = prng(900 + bits);
      const mine = new BucketKeySet(bits);
      const ref = new Set<number>();
      const space = 2 ** bits;
      for (let i = 0; i < 150_000; i++) {
        // A narrow range first (buckets overflow, deletes free room in overflowed buckets,
        // re-adds of keys that wait in the overflow), then the whole key space.
        const range = i < 60_000 ? Math.min(space, 5_000) : space;
        const key = rand() < 0.01 ? (rand() < 0.5 ? 0 : space - 1) : Math.floor(rand() * range);
        if (rand() < 0.55) {
          expect(mine.add(key) !== 0).toBe(!ref.has(key));
          ref.add(key);
        } else {
          expect(mine.delete(key)).toBe(ref.has(key));
          ref.delete(key);
        }
        if (i % 10_000 === 0) {
          expect(mine.size).toBe(ref.size);
          const probe = Math.floor(rand() * space);
          expect(mine.has(probe)).toBe(ref.has(probe));
        }
      }
      const seen: number[] = [];
      mine.forEach((k) => {
        seen.push(k);
      });
      expect(seen.sort((a, b) => a - b)).toEqual([...ref].sort((a, b) => a - b));
      for (const key of [...ref]) expect(mine.delete(key)).toBe(true);
      expect([mine.size, mine.has(0), mine.has(space - 1)]).toEqual([0, false, false]);
    });
  }

  test("overfull once its overflow costs more than its buckets: keys bunched in one range", () => {
    const s = new BucketKeySet(24);
    for (let k = 0; k < 1 << 16; k++) s.add(k);
    expect(s.overfull).toBe(false); // the permutation spreads a /8 of /24s over the buckets
    const t = new BucketKeySet(MIN_BUCKET_BITS);
    for (let k = 0; k < 4_000 && !t.overfull; k++) t.add(k);
    expect(t.overfull).toBe(true); // 4,000 of 65,536 keys: more than 15 a bucket on average
    expect(() => new BucketKeySet(MIN_BUCKET_BITS - 1)).toThrow(RangeError);
  });
});

describe("PairKeySet", () => {
  test("agrees with a Set through random adds and deletes", () => {
    const rand = prng(7);
    const mine = new PairKeySet();
    const ref = new Set<string>();
    const word = (range: number) => Math.floor(rand() * range) >>> 0;
    for (let i = 0; i < 150_000; i++) {
      const narrow = i < 40_000;
      const hi = narrow ? word(20) : rand() < 0.1 ? 0 : word(2 ** 32);
      const lo = narrow ? word(30) : rand() < 0.1 ? 0 : word(2 ** 32);
      const key = `${hi}:${lo}`;
      if (rand() < (i < 110_000 ? 0.6 : 0.2)) {
        expect(mine.add(hi, lo)).toBe(!ref.has(key));
        ref.add(key);
      } else {
        expect(mine.delete(hi, lo)).toBe(ref.has(key));
        ref.delete(key);
      }
      if (i % 5_000 === 0) expect(mine.size).toBe(ref.size);
    }
    expect(mine.size).toBe(ref.size);
    for (const key of ref) {
      const [hi, lo] = key.split(":").map(Number) as [number, number];
      expect(mine.has(hi, lo)).toBe(true);
    }
    expect(mine.has(0, 0)).toBe(ref.has("0:0"));
    expect(mine.has(0xffffffff, 0xffffffff)).toBe(ref.has("4294967295:4294967295"));
  });

  test("deletes keep every key findable when probe runs wrap around the table's end", () => {
    const home = (hi: number, lo: number) => fmix(Math.imul(hi, 0x9e3779b1) ^ lo) >>> 28;
    const keys: [number, number][] = [];
    for (let k = 1; keys.length < 40; k++)
      if ([13, 14, 15, 0].includes(home(k, 7))) keys.push([k, 7]);
    const rand = prng(4);
    for (let round = 0; round < 3_000; round++) {
      const mine = new PairKeySet();
      const ref = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const [hi, lo] = keys[Math.floor(rand() * keys.length)] as [number, number];
        if (ref.size < 4 && rand() < 0.6) {
          mine.add(hi, lo);
          ref.add(hi);
        } else {
          expect(mine.delete(hi, lo)).toBe(ref.has(hi));
          ref.delete(hi);
        }
        for (const [h, l] of keys) expect(mine.has(h, l)).toBe(ref.has(h));
      }
    }
  });
});

/** The canonical text of a prefix, from its bytes with the bits past the length cleared. */
function canonical(afi: number, length: number, bytes: Uint8Array): string {
  const n = (length + 7) >>> 3;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const keep = Math.min(8, length - 8 * i);
    out.push((bytes[i] as number) & ((0xff << (8 - keep)) & 0xff));
  }
  return `${afi}/${length}/${out.join(".")}`;
}

describe("PrefixTable against a Set of canonical prefixes", () => {
  test("random announcements and withdrawals of every length, with junk past the length", () => {
    const rand = prng(42);
    const table = new PrefixTable();
    const ref = { [Afi.IPV4]: new Set<string>(), [Afi.IPV6]: new Set<string>() };
    const buf = new Uint8Array(40);
    for (let i = 0; i < 200_000; i++) {
      const afi = rand() < 0.6 ? Afi.IPV4 : Afi.IPV6;
      const max = afi === Afi.IPV4 ? 32 : 128;
      // Mostly a few popular lengths (dense sets), every length sometimes.
      const popular = afi === Afi.IPV4 ? [24, 22, 16, 8] : [48, 32, 64, 40];
      const length =
        rand() < 0.7
          ? (popular[Math.floor(rand() * popular.length)] as number)
          : Math.floor(rand() * (max + 1));
      const offset = 1 + Math.floor(rand() * 3);
      // Draw from a limited pool so withdrawals hit held prefixes.
      const pool = Math.floor(rand() * 30_000);
      const bytes = new Uint8Array(16);
      let x = Math.imul(pool + 1, 0x9e3779b1) ^ length;
      for (let b = 0; b < 16; b++) {
        x = Math.imul(x ^ (x >>> 13), 0x5bd1e995);
        bytes[b] = x >>> 24;
      }
      buf.fill(0xa5); // junk around the prefix: past its length, before and after it
      buf.set(bytes.subarray(0, (length + 7) >>> 3), offset);
      // Flip the bits past the length in the last octet: the same prefix.
      const last = offset + ((length + 7) >>> 3) - 1;
      if (length % 8 !== 0 && rand() < 0.5)
        buf[last] = (buf[last] as number) ^ (0xff >> (length % 8));
      const key = canonical(afi, length, buf.subarray(offset));
      if (rand() < 0.6) {
        table.add(afi, length, buf, offset);
        ref[afi].add(key);
      } else {
        table.remove(afi, length, buf, offset);
        ref[afi].delete(key);
      }
      if (i % 10_000 === 0) expect([table.ipv4, table.ipv6]).toEqual([ref[1].size, ref[2].size]);
    }
    expect([table.ipv4, table.ipv6]).toEqual([ref[1].size, ref[2].size]);
    table.clear();
    expect([table.ipv4, table.ipv6, table.bytes]).toEqual([0, 0, 0]);
  });

  test("has() answers for text prefixes of both families and every key kind", () => {
    const t = new PrefixTable();
    const add = (afi: number, length: number, bytes: number[]) =>
      t.add(afi, length, Uint8Array.from(bytes), 0);
    add(1, 24, [198, 51, 100]);
    add(1, 32, [255, 255, 255, 255]);
    add(2, 32, [0x20, 0x01, 0x0d, 0xb8]);
    add(2, 48, [0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    add(2, 64, [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]);
    add(2, 128, [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
    expect([t.ipv4, t.ipv6]).toEqual([2, 4]);
    for (const p of [
      "198.51.100.0/24",
      "255.255.255.255/32",
      "2001:db8::/32",
      "2001:db8:1::/48",
      "2001:db8:1:2::/64",
      "2001:db8::1/128",
    ])
      expect(t.has(p)).toBe(true);
    for (const p of ["198.51.101.0/24", "2001:db8::/33", "2001:db8:1:3::/64", "2001:db8::2/128"])
      expect(t.has(p)).toBe(false);
  });

  test("small for 1,000 prefixes, a few MiB for a full table", () => {
    const rand = prng(9);
    const small = new PrefixTable();
    const b = new Uint8Array(8);
    for (let i = 0; i < 1_000; i++) {
      b[0] = 1 + Math.floor(rand() * 222);
      b[1] = Math.floor(rand() * 256);
      b[2] = Math.floor(rand() * 256);
      small.add(Afi.IPV4, [24, 22, 20][i % 3] as number, b, 0);
      if (i % 5 === 0) small.add(Afi.IPV6, 48, Uint8Array.from([0x20, 0x01, i >> 8, i, 0, 1]), 0);
    }
    expect(small.ipv4).toBeGreaterThan(990);
    expect(small.bytes).toBeLessThan(32 * 1024);

    const full = new PrefixTable();
    for (let i = 0; i < 1_000_000; i++) {
      const r = rand();
      const length = r < 0.6 ? 24 : r < 0.7 ? 22 : r < 0.8 ? 23 : r < 0.9 ? 20 : 21;
      b[0] = 1 + Math.floor(rand() * 222);
      b[1] = Math.floor(rand() * 256);
      b[2] = Math.floor(rand() * 256);
      full.add(Afi.IPV4, length, b, 0);
    }
    for (let i = 0; i < 200_000; i++) {
      b[0] = 0x20;
      b[1] = 0x01 + Math.floor(rand() * 16);
      for (let j = 2; j < 8; j++) b[j] = Math.floor(rand() * 256);
      full.add(Afi.IPV6, i % 2 === 0 ? 48 : ([32, 44, 40, 36][i % 4] as number), b, 0);
    }
    expect(full.ipv4).toBeGreaterThan(800_000);
    expect(full.bytes).toBeLessThan(5 * MiB); // 7.9 MiB before the bucket sets and the split IPv6 sets
  });
});
