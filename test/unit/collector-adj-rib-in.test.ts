import { describe, expect, test } from "bun:test";
import { Afi, AttrFlag, AttrType } from "../../src/bgp/constants.ts";
import { parsePrefix } from "../../src/bgp/prefix.ts";
import { decodeUpdate } from "../../src/bgp/update.ts";
import { encodeEndOfRib, encodeUpdateBody, type UpdateSpec } from "../../src/bgp/update-encoder.ts";
import { AdjRibIn } from "../../src/collector/adj-rib-in.ts";
import { AttributeStore } from "../../src/collector/attribute-store.ts";
import { LENGTHS_AT_FROM, PrefixMap } from "../../src/collector/prefix-map.ts";
import { RibSnapshot } from "../../src/collector/rib-snapshot.ts";
import { storedAttributesView } from "../../src/collector/stored-attributes.ts";
import { prng } from "../fixtures/bgp/hex.ts";

function feed(rib: AdjRibIn, spec: UpdateSpec, fourOctetAs = true): void {
  rib.apply(
    decodeUpdate(encodeUpdateBody({ fourOctetAs, ...spec }), { fourOctetAs, external: true }),
  );
}

function view(rib: AdjRibIn, prefix: string) {
  const e = rib.exact(prefix);
  return e && storedAttributesView(rib.attributes.get(e.attrs));
}

const base = { origin: 0, asPath: [65001, 174, 13335], nextHop: "192.0.2.1" };

describe("PrefixMap", () => {
  const put = (m: PrefixMap, text: string, v: number) => {
    const p = parsePrefix(text);
    m.loadKey(p.length, p.bytes, 0);
    return m.set(p.length, v);
  };
  const del = (m: PrefixMap, text: string) => {
    const p = parsePrefix(text);
    m.loadKey(p.length, p.bytes, 0);
    return m.delete(p.length);
  };
  const get = (m: PrefixMap, text: string) => {
    const p = parsePrefix(text);
    m.loadKey(p.length, p.bytes, 0);
    return m.get(p.length);
  };

  test("agrees with a Map under random inserts and deletes (IPv4 and IPv6), across resizes", () => {
    for (const words of [1, 4] as const) {
      const m = new PrefixMap(words, 16);
      const ref = new Map<string, number>();
      const r = prng(words);
      const texts: string[] = [];
      for (let i = 0; i < 3000; i++) {
        const len = Math.floor(r() * (words * 32 + 1));
        const bytes = new Uint8Array(words * 4);
        for (let b = 0; b < bytes.length; b++) bytes[b] = Math.floor(r() * 4); // dense: collisions
        m.loadKey(len, bytes, 0);
        const key = `${Array.from(m.key).join(".")}/${len}`;
        texts.push(key);
        if (r() < 0.3 && ref.has(key)) {
          expect(m.delete(len)).toBe(ref.get(key) as number);
          ref.delete(key);
        } else {
          const v = i + 1;
          expect(m.set(len, v)).toBe(ref.get(key) ?? -1);
          ref.set(key, v);
        }
        expect(m.size).toBe(ref.size);
      }
      for (const key of texts) {
        const [words32, len] = key.split("/") as [string, string];
        m.key.set(words32.split(".").map(Number));
        expect(m.get(Number(len))).toBe(ref.get(key) ?? -1);
      }
    }
  });

  test("longest match agrees with a brute-force scan (IPv4 small and large, IPv6)", () => {
    // IPv4 twice: below LENGTHS_AT_FROM slots (lengths probed from perLength) and above it
    // (the per-/16 length bits).
    const cases = [
      { words: 1 as const, routes: 1500, lookups: 1500 },
      { words: 1 as const, routes: (LENGTHS_AT_FROM * 3) / 8 + 500, lookups: 400 },
      { words: 4 as const, routes: 1500, lookups: 1500 },
    ];
    for (const { words, routes, lookups } of cases) {
      const m = new PrefixMap(words, 16);
      const r = prng(100 + words + routes);
      const held: { bytes: Uint32Array; len: number; v: number }[] = [];
      const randomBytes = () => {
        const b = new Uint8Array(words * 4);
        b[0] = 10;
        for (let i = 1; i < b.length; i++) b[i] = r() < 0.5 ? 0 : Math.floor(r() * 256);
        return b;
      };
      for (let i = 0; i < routes; i++) {
        const len = Math.floor(r() * (words * 32 + 1));
        const b = randomBytes();
        m.loadKey(len, b, 0);
        if (m.set(len, i) < 0) held.push({ bytes: Uint32Array.from(m.key), len, v: i });
        else
          (
            held.find((h) => h.len === len && h.bytes.every((x, j) => x === m.key[j])) as {
              v: number;
            }
          ).v = i;
      }
      const covers = (h: { bytes: Uint32Array; len: number }, key: Uint32Array) => {
        for (let w = 0; w < words; w++) {
          const bits = Math.max(0, Math.min(32, h.len - w * 32));
          const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
          if (((key[w] as number) & mask) >>> 0 !== h.bytes[w]) return false;
        }
        return true;
      };
      for (let i = 0; i < lookups; i++) {
        m.loadKey(words * 32, randomBytes(), 0);
        let best: { len: number; v: number } | undefined;
        for (const h of held) if (covers(h, m.key) && (!best || h.len > best.len)) best = h;
        const slot = m.longestMatch();
        expect(slot < 0 ? -1 : m.slotValue(slot)).toBe(best ? best.v : -1);
      }
    }
  });

  test("a small IPv4 map keeps no per-/16 length bits; a large one does until clear()", () => {
    // 1,000 collector sessions of 1,000 routes each held 256 KiB of them apiece (scale scenario).
    const m = new PrefixMap(1);
    const r = prng(7);
    const add = (n: number) => {
      for (let i = 0; i < n; i++) {
        const b = Uint8Array.of(
          Math.floor(r() * 224),
          Math.floor(r() * 256),
          Math.floor(r() * 256),
          0,
        );
        m.loadKey(24, b, 0);
        m.set(24, i);
      }
    };
    add(1000);
    expect(m.bytes).toBeLessThan(64 * 1024);
    add((LENGTHS_AT_FROM * 3) / 8);
    expect(m.bytes).toBeGreaterThan(LENGTHS_AT_FROM * 9 + 256 * 1024 - 1);
    m.clear();
    expect(m.bytes).toBeLessThan(64 * 1024);
    m.key[0] = 0x0a000001;
    expect(m.longestMatch()).toBe(-1);
  });

  test("longest match picks the most specific covering prefix; /0 is a default", () => {
    const m = new PrefixMap(1);
    put(m, "10.0.0.0/8", 1);
    put(m, "10.1.0.0/16", 2);
    put(m, "10.1.2.0/24", 3);
    const lpm = (addr: string) => {
      const p = parsePrefix(addr);
      m.loadKey(32, p.bytes, 0);
      const slot = m.longestMatch();
      return slot < 0 ? -1 : m.slotValue(slot);
    };
    expect(lpm("10.1.2.3")).toBe(3);
    expect(lpm("10.1.3.1")).toBe(2);
    expect(lpm("10.200.0.1")).toBe(1);
    expect(lpm("11.0.0.1")).toBe(-1);
    put(m, "0.0.0.0/0", 9);
    expect(lpm("11.0.0.1")).toBe(9);
    expect(del(m, "10.1.2.0/24")).toBe(3);
    expect(lpm("10.1.2.3")).toBe(2);
    expect(get(m, "10.1.2.0/24")).toBe(-1);
  });
});

describe("AttributeStore", () => {
  test("interns equal sets once, counts references, frees and compacts", () => {
    const s = new AttributeStore();
    const a = Uint8Array.of(1, 2, 3);
    const b = Uint8Array.of(1, 2, 4);
    const ia = s.intern(a, 0, 3);
    expect(s.intern(a, 0, 3)).toBe(ia);
    const ib = s.intern(b, 0, 3);
    expect(ib).not.toBe(ia);
    expect(s.size).toBe(2);
    expect(s.refCount(ia)).toBe(2);
    s.release(ia);
    s.release(ia);
    expect(s.size).toBe(1);
    expect(Array.from(s.get(ib))).toEqual([1, 2, 4]);
    // Churn many sets through (over 1 MiB of garbage: the arena is compacted), keeping some.
    const set = (i: number) => Uint8Array.of(i & 255, (i >> 8) & 255, i >> 16, 7, 7, 7, 7, 7);
    const kept = new Map<number, number>();
    for (let i = 0; i < 300_000; i++) {
      const x = set(i);
      const id = s.intern(x, 0, x.length);
      if (i % 1000 === 0) kept.set(i, id);
      else s.release(id);
    }
    expect(s.size).toBe(301);
    expect(s.bytes).toBeLessThan(3 << 20); // 2.4 MB went through: without compaction, 3 chunks
    expect(Array.from(s.get(ib))).toEqual([1, 2, 4]);
    for (const [i, id] of kept) expect(Array.from(s.get(id))).toEqual(Array.from(set(i)));
    const again = set(768); // released: interned anew
    const id = s.intern(again, 0, again.length);
    expect(s.refCount(id)).toBe(1);
    expect(s.size).toBe(302);
  });
});

describe("AdjRibIn", () => {
  test("holds every announced prefix with its attributes (communities of all kinds, next hop)", () => {
    const rib = new AdjRibIn();
    feed(rib, {
      ...base,
      med: 10,
      localPref: 200,
      communities: ["65001:100", "174:3000"],
      largeCommunities: [[65001, 1, 2]],
      attributes: [
        {
          flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
          type: AttrType.EXTENDED_COMMUNITIES,
          value: Uint8Array.of(0, 2, 0xfd, 0xe9, 0, 0, 0, 7),
        },
      ],
      nlri: ["198.51.100.0/24", "203.0.113.0/25"],
    });
    feed(rib, {
      origin: 2,
      asPath: [65001, 6939],
      mpReach: { nextHop: ["2001:db8::1", "fe80::1"], nlri: ["2001:db8:100::/48"] },
    });
    expect(rib.counts).toEqual({ ipv4: 2, ipv6: 1 });
    expect(view(rib, "198.51.100.0/24")).toEqual({
      origin: "igp",
      asPath: [65001, 174, 13335],
      nextHop: "192.0.2.1",
      med: 10,
      localPref: 200,
      communities: ["65001:100", "174:3000"],
      largeCommunities: ["65001:1:2"],
      extendedCommunities: ["0002fde900000007"],
    });
    expect(view(rib, "2001:db8:100::/48")).toEqual({
      origin: "incomplete",
      asPath: [65001, 6939],
      nextHop: "2001:db8::1",
      nextHopLinkLocal: "fe80::1",
    });
    // Both IPv4 routes share one interned set.
    expect(rib.exact("198.51.100.0/24")?.attrs).toBe(rib.exact("203.0.113.0/25")?.attrs as number);
    expect(rib.attributes.size).toBe(2);
  });

  test("re-announcement replaces the route; the old set is freed with its last route", () => {
    const rib = new AdjRibIn();
    feed(rib, { ...base, nlri: ["198.51.100.0/24"] });
    feed(rib, { ...base, asPath: [65001, 3356], nlri: ["198.51.100.0/24"] });
    expect(rib.counts.ipv4).toBe(1);
    expect(view(rib, "198.51.100.0/24")?.asPath).toEqual([65001, 3356]);
    expect(rib.attributes.size).toBe(1);
  });

  test("withdrawals (IPv4 field and MP_UNREACH) remove routes; unknown ones change nothing", () => {
    const rib = new AdjRibIn();
    feed(rib, { ...base, nlri: ["198.51.100.0/24", "203.0.113.0/24"] });
    feed(rib, { ...base, mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8::/32"] } });
    feed(rib, { withdrawn: ["198.51.100.0/24", "192.0.2.0/24"] });
    feed(rib, { mpUnreach: { afi: Afi.IPV6, withdrawn: ["2001:db8::/32"] } });
    expect(rib.counts).toEqual({ ipv4: 1, ipv6: 0 });
    expect(rib.exact("198.51.100.0/24")).toBeUndefined();
    expect(rib.exact("203.0.113.0/24")).toBeDefined();
    expect(rib.attributes.size).toBe(1);
  });

  test("RFC 7606 treat-as-withdraw removes the announced prefixes", () => {
    const rib = new AdjRibIn();
    feed(rib, { ...base, nlri: ["198.51.100.0/24", "203.0.113.0/24"] });
    // No AS_PATH: a missing well-known attribute is treat-as-withdraw.
    const update = decodeUpdate(
      encodeUpdateBody({ origin: 0, nextHop: "192.0.2.1", nlri: ["198.51.100.0/24"] }),
      { fourOctetAs: true, external: true },
    );
    expect(update.treatAsWithdraw).toBe(true);
    rib.apply(update);
    expect(rib.counts.ipv4).toBe(1);
    expect(rib.exact("198.51.100.0/24")).toBeUndefined();
  });

  test("End-of-RIB marks the family; clear (session end) empties everything", () => {
    const rib = new AdjRibIn();
    feed(rib, { ...base, nlri: ["198.51.100.0/24"] });
    rib.apply(decodeUpdate(encodeEndOfRib().subarray(19), { fourOctetAs: true }));
    rib.apply(decodeUpdate(encodeEndOfRib(Afi.IPV6).subarray(19), { fourOctetAs: true }));
    expect(rib.endOfRib).toEqual({ ipv4: true, ipv6: true });
    expect(rib.counts.ipv4).toBe(1);
    rib.clear();
    expect(rib.counts).toEqual({ ipv4: 0, ipv6: 0 });
    expect(rib.endOfRib).toEqual({ ipv4: false, ipv6: false });
    expect(rib.attributes.size).toBe(0);
  });

  test("a 2-octet-AS session's AS_PATH and AGGREGATOR are stored in 4-octet form", () => {
    const rib = new AdjRibIn();
    const aggregator = Uint8Array.of(0xfd, 0xe9, 192, 0, 2, 9);
    feed(
      rib,
      {
        ...base,
        asPath: [65001, 174],
        attributes: [
          {
            flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
            type: AttrType.AGGREGATOR,
            value: aggregator,
          },
        ],
        nlri: ["198.51.100.0/24"],
      },
      false,
    );
    const v = view(rib, "198.51.100.0/24");
    expect(v?.asPath).toEqual([65001, 174]);
    expect(v?.aggregator).toEqual({ asn: 65001, address: "192.0.2.9" });
  });

  test("exact, longest and longer lookups", () => {
    const rib = new AdjRibIn();
    feed(rib, { ...base, nlri: ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "11.0.0.0/8"] });
    feed(rib, {
      ...base,
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8::/32", "2001:db8:1::/48"] },
    });
    expect(rib.exact("10.1.0.0/16")?.prefix).toBe("10.1.0.0/16");
    expect(rib.exact("10.1.0.0/17")).toBeUndefined();
    expect(rib.longest("10.1.2.3")?.prefix).toBe("10.1.2.0/24");
    expect(rib.longest("10.1.0.0/17")?.prefix).toBe("10.1.0.0/16");
    expect(rib.longest("12.0.0.1")).toBeUndefined();
    expect(
      rib
        .longer("10.0.0.0/8")
        .map((e) => e.prefix)
        .sort(),
    ).toEqual(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"]);
    expect(rib.longest("2001:db8:1::5")?.prefix).toBe("2001:db8:1::/48");
    expect(rib.longest("2001:db8:2::5")?.prefix).toBe("2001:db8::/32");
    expect(rib.longer("2001:db8::/32").length).toBe(2);
  });

  test("a snapshot keeps its routes' attribute sets while the RIB changes; stale after clear", () => {
    const rib = new AdjRibIn();
    feed(rib, { ...base, nlri: ["198.51.100.0/24", "203.0.113.0/24"] });
    feed(rib, {
      ...base,
      asPath: [65001, 3356],
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8::/32"] },
    });
    const snap = new RibSnapshot(rib);
    expect([snap.count, snap.ipv4Count]).toEqual([3, 2]);
    feed(rib, { withdrawn: ["198.51.100.0/24", "203.0.113.0/24"] });
    feed(rib, { mpUnreach: { afi: Afi.IPV6, withdrawn: ["2001:db8::/32"] } });
    expect(rib.counts).toEqual({ ipv4: 0, ipv6: 0 });
    expect(rib.attributes.size).toBe(2); // held by the snapshot
    const v6 = [...snap.byAttributes(true)];
    expect(v6).toEqual([2]);
    expect(storedAttributesView(snap.attributes(2)).asPath).toEqual([65001, 3356]);
    const prefix = new Uint8Array(16);
    snap.prefix(0, prefix);
    expect(snap.valid).toBe(true);
    snap.release();
    snap.release();
    expect(rib.attributes.size).toBe(0);
    expect(snap.valid).toBe(false);

    feed(rib, { ...base, nlri: ["198.51.100.0/24"] });
    const stale = new RibSnapshot(rib);
    rib.clear();
    feed(rib, { ...base, nlri: ["192.0.2.0/24"] });
    expect(stale.valid).toBe(false);
    stale.release(); // nothing to give back to the new epoch's store
    expect(rib.attributes.refCount(rib.exact("192.0.2.0/24")?.attrs as number)).toBe(1);
  });
});
