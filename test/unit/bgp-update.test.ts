import { describe, expect, test } from "bun:test";
import { AttrFlag, AttrType } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { BgpNotificationError } from "../../src/bgp/notification-error.ts";
import { decodeAsPath, flattenAsPath } from "../../src/bgp/path-attribute.ts";
import { decodePathAttributes } from "../../src/bgp/route-attributes.ts";
import {
  attributeValue,
  type DecodedUpdate,
  decodeUpdate,
  type UpdateDecodeOptions,
  updatePrefixes,
} from "../../src/bgp/update.ts";
import {
  encodeAnnouncements,
  encodeAsPath,
  encodeEndOfRib,
  encodeUpdate,
  encodeUpdateBody,
} from "../../src/bgp/update-encoder.ts";
import { concat, fixture, hex, prng, toHex } from "../fixtures/bgp/hex.ts";
import { cellsAllocatedBy } from "../support/heap-cells.ts";

const AS4: UpdateDecodeOptions = { fourOctetAs: true };
const AS2: UpdateDecodeOptions = { fourOctetAs: false };
const body = (message: Uint8Array) => message.subarray(19);
const MANDATORY = "40010100 40020602010000fde9 400304c0000201"; // ORIGIN, AS_PATH [65001], NEXT_HOP

/** An UPDATE body from hex parts, lengths filled in. */
function raw(parts: { withdrawn?: string; attrs?: string; nlri?: string }): Uint8Array {
  const w = hex(parts.withdrawn ?? "");
  const a = hex(parts.attrs ?? "");
  const n = hex(parts.nlri ?? "");
  return concat(
    Uint8Array.of(w.length >> 8, w.length & 0xff),
    w,
    Uint8Array.of(a.length >> 8, a.length & 0xff),
    a,
    n,
  );
}

function updateError(b: Uint8Array, options: UpdateDecodeOptions = AS4): BgpNotificationError {
  try {
    decodeUpdate(b, options);
  } catch (err) {
    if (err instanceof BgpNotificationError) return err;
    throw err;
  }
  throw new Error("no error thrown");
}

const codes = (e: BgpNotificationError) => [e.code, e.subcode];
const problems = (u: DecodedUpdate) =>
  u.problems.map((p) => [p.action, p.error.code, p.error.subcode, toHex(p.error.data)]);

describe("decodeUpdate: golden vectors", () => {
  test("IPv4 announcement with a 4-octet AS_PATH", () => {
    const u = decodeUpdate(body(fixture("update-ipv4-as4")), AS4);
    expect([u.withdrawnCount, u.nlriCount, u.treatAsWithdraw, u.problems]).toEqual([
      0,
      2,
      false,
      [],
    ]);
    expect(updatePrefixes(u)).toEqual({
      announced: ["10.0.0.0/8", "192.168.1.0/24"],
      withdrawn: [],
    });
    const attrs = decodePathAttributes(u);
    expect(attrs.origin).toBe(0);
    expect(attrs.asPathList).toEqual([65001, 65002]);
    expect(attrs.asPath).toEqual([{ type: 2, asns: [65001, 65002] }]);
    expect(attrs.nextHop).toBe("192.0.2.1");
    expect(u.attributes.map((a) => a.type)).toEqual([1, 2, 3]);
    expect(u.endOfRib).toBeUndefined();
  });

  test("the same routes with a 2-octet AS_PATH", () => {
    const u = decodeUpdate(body(fixture("update-ipv4-as2")), AS2);
    expect(decodePathAttributes(u).asPathList).toEqual([65001, 65002]);
    expect(updatePrefixes(u).announced).toEqual(["10.0.0.0/8", "192.168.1.0/24"]);
  });

  test("a 4-octet AS_PATH read as 2-octet is malformed (AS 0) → treat-as-withdraw", () => {
    const u = decodeUpdate(body(fixture("update-ipv4-as4")), AS2);
    expect(u.treatAsWithdraw).toBe(true);
    expect(problems(u)).toEqual([["treat-as-withdraw", 3, 11, ""]]);
  });

  test("a 2-octet AS_PATH read as 4-octet overruns → treat-as-withdraw", () => {
    const u = decodeUpdate(body(fixture("update-ipv4-as2")), AS4);
    expect(u.problems[0]?.error.subcode).toBe(11);
    expect(u.treatAsWithdraw).toBe(true);
  });

  test("MP_REACH_NLRI IPv6 with global and link-local next hop (32 octets)", () => {
    const u = decodeUpdate(body(fixture("update-ipv6-linklocal")), AS4);
    expect(u.problems).toEqual([]);
    expect(u.mpReach).toMatchObject({ afi: 2, safi: 1, count: 2, parsed: true, nextHopLength: 32 });
    expect(updatePrefixes(u).announced).toEqual(["2001:db8::/32", "2001:db8:1::/48"]);
    expect(decodePathAttributes(u).mpNextHops).toEqual(["2001:db8::1", "fe80::1"]);
  });

  test("End-of-RIB, both forms", () => {
    expect(decodeUpdate(body(fixture("update-eor-ipv4")), AS4).endOfRib).toEqual({
      afi: 1,
      safi: 1,
    });
    const v6 = decodeUpdate(body(fixture("update-eor-ipv6")), AS4);
    expect(v6.endOfRib).toEqual({ afi: 2, safi: 1 });
    expect(v6.problems).toEqual([]);
    expect(toHex(encodeEndOfRib())).toBe(toHex(fixture("update-eor-ipv4")));
    expect(toHex(encodeEndOfRib(2, 1))).toBe(toHex(fixture("update-eor-ipv6")));
  });

  test("withdrawals: IPv4 field and MP_UNREACH_NLRI, no attributes needed", () => {
    const u = decodeUpdate(body(fixture("update-withdraw")), AS4);
    expect(u.problems).toEqual([]);
    expect(u.endOfRib).toBeUndefined();
    expect(updatePrefixes(u)).toEqual({
      announced: [],
      withdrawn: ["10.0.0.0/8", "2001:db8::/32"],
    });
  });
});

describe("encodeUpdate", () => {
  test("reproduces the golden vectors", () => {
    const spec = {
      origin: 0,
      asPath: [65001, 65002],
      nextHop: "192.0.2.1",
      nlri: ["10.0.0.0/8", "192.168.1.0/24"],
    };
    expect(toHex(encodeUpdate(spec))).toBe(toHex(fixture("update-ipv4-as4")));
    expect(toHex(encodeUpdate({ ...spec, fourOctetAs: false }))).toBe(
      toHex(fixture("update-ipv4-as2")),
    );
    expect(
      toHex(
        encodeUpdate({
          mpReach: {
            nextHop: ["2001:db8::1", "fe80::1"],
            nlri: ["2001:db8::/32", "2001:db8:1::/48"],
          },
          origin: 0,
          asPath: [65001],
        }),
      ),
    ).toBe(toHex(fixture("update-ipv6-linklocal")));
    expect(
      toHex(
        encodeUpdate({
          withdrawn: ["10.0.0.0/8"],
          mpUnreach: { afi: 2, withdrawn: ["2001:db8::/32"] },
        }),
      ),
    ).toBe(toHex(fixture("update-withdraw")));
  });

  test("round trip of every supported attribute", () => {
    const msg = encodeUpdate({
      withdrawn: ["198.51.100.0/24"],
      nlri: ["0.0.0.0/0", "203.0.113.128/25", "192.0.2.1/32"],
      origin: 2,
      asPath: [
        { type: 1, asns: [64496, 64497] },
        { type: 2, asns: [4200000000] },
      ],
      nextHop: "192.0.2.254",
      med: 50,
      localPref: 200,
      communities: ["65000:100", 0xffffff01],
      largeCommunities: [[4200000000, 1, 2]],
      mpReach: { afi: 2, nextHop: "2001:db8::1", nlri: ["::/0", "2001:db8:ffff::1/128"] },
      mpUnreach: { afi: 2, withdrawn: ["2001:db8:1::/48"] },
      attributes: [
        { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, type: 200, value: hex("abcdef") },
      ],
    });
    const u = decodeUpdate(body(msg), AS4);
    expect(u.problems).toEqual([]);
    expect(updatePrefixes(u)).toEqual({
      announced: ["0.0.0.0/0", "203.0.113.128/25", "192.0.2.1/32", "::/0", "2001:db8:ffff::1/128"],
      withdrawn: ["198.51.100.0/24", "2001:db8:1::/48"],
    });
    const a = decodePathAttributes(u);
    expect(a).toMatchObject({
      origin: 2,
      asPathList: [64496, 64497, 4200000000],
      nextHop: "192.0.2.254",
      med: 50,
      localPref: 200,
      communities: [65000 * 65536 + 100, 0xffffff01],
      largeCommunities: [[4200000000, 1, 2]],
      mpNextHops: ["2001:db8::1"],
    });
    expect(a.other).toEqual([{ type: 200, flags: 0xc0, value: hex("abcdef") }]);
    // RFC 7606 §5.1: MP attributes first.
    expect(u.attributes.slice(0, 2).map((x) => x.type)).toEqual([15, 14]);
    expect(toHex(attributeValue(u, AttrType.ORIGIN) ?? new Uint8Array())).toBe("02");
  });

  test("attributes over 255 octets use the extended length flag", () => {
    const asns = Array.from({ length: 300 }, (_, i) => 64512 + i);
    const msg = encodeUpdate({
      origin: 0,
      asPath: asns,
      nextHop: "192.0.2.1",
      nlri: ["10.0.0.0/8"],
    });
    const u = decodeUpdate(body(msg), AS4);
    const asPath = u.attributes.find((x) => x.type === AttrType.AS_PATH);
    expect((asPath?.flags ?? 0) & AttrFlag.EXTENDED_LENGTH).toBe(AttrFlag.EXTENDED_LENGTH);
    const segments = decodePathAttributes(u).asPath ?? [];
    expect(segments.map((s) => s.asns.length)).toEqual([255, 45]);
    expect(flattenAsPath(segments)).toEqual(asns);
  });

  test("encodeAnnouncements packs prefixes into messages within the limit", () => {
    const v4 = Array.from({ length: 5000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const msgs = encodeAnnouncements({ origin: 0, asPath: [65001], nextHop: "192.0.2.1" }, v4);
    expect(msgs.length).toBeGreaterThan(1);
    let count = 0;
    for (const m of msgs) {
      expect(m.length).toBeLessThanOrEqual(4096);
      count += decodeUpdate(body(m), AS4).nlriCount;
    }
    expect(count).toBe(5000);
    const v6 = Array.from({ length: 3000 }, (_, i) => `2001:db8:${i.toString(16)}::/48`);
    const msgs6 = encodeAnnouncements(
      { origin: 0, asPath: [65001], mpReach: { nextHop: "2001:db8::1", nlri: [] } },
      v6,
    );
    let count6 = 0;
    for (const m of msgs6) {
      expect(m.length).toBeLessThanOrEqual(4096);
      count6 += decodeUpdate(body(m), AS4).mpReach?.count ?? 0;
    }
    expect(count6).toBe(3000);
  });

  test("encodeAsPath 2- and 4-octet", () => {
    expect(toHex(encodeAsPath([65001], false))).toBe("0201fde9");
    expect(toHex(encodeAsPath([65001]))).toBe("02010000fde9");
    expect(decodeAsPath(encodeAsPath([1, 2, 3], false), 2)).toEqual([{ type: 2, asns: [1, 2, 3] }]);
  });
});

describe("decodeUpdate: session-reset errors (thrown)", () => {
  test("withdrawn routes length overruns → 3/1", () => {
    expect(codes(updateError(hex("0010 0000")))).toEqual([3, 1]);
  });

  test("total path attribute length overruns → 3/1", () => {
    expect(codes(updateError(hex("0000 0005 40010100")))).toEqual([3, 1]);
  });

  test("body shorter than 4 → 3/1", () => {
    expect(codes(updateError(hex("0000")))).toEqual([3, 1]);
  });

  test("IPv4 prefix length 33 → 3/10 Invalid Network Field", () => {
    expect(codes(updateError(raw({ attrs: MANDATORY, nlri: "21 0a000000 00" })))).toEqual([3, 10]);
    expect(codes(updateError(raw({ withdrawn: "21 0a000000 00" })))).toEqual([3, 10]);
  });

  test("prefix running past the end → 3/10", () => {
    expect(codes(updateError(raw({ attrs: MANDATORY, nlri: "18 0a00" })))).toEqual([3, 10]);
    expect(codes(updateError(raw({ withdrawn: "10 0a" })))).toEqual([3, 10]);
  });

  test("IPv6 prefix length 129 in MP_REACH_NLRI → 3/10", () => {
    const attrs =
      "800e 16 0002 01 10 20010db8000000000000000000000001 00 81 40010100 40020602010000fde9";
    expect(codes(updateError(raw({ attrs })))).toEqual([3, 10]);
  });

  test("MP_REACH_NLRI next hop length wrong for IPv6 → 3/9", () => {
    const e = updateError(
      raw({ attrs: "800e 0a 0002 01 05 0102030405 00 40010100 40020602010000fde9" }),
    );
    expect(codes(e)).toEqual([3, 9]);
    expect(toHex(e.data)).toBe("800e0a00020105010203040500");
  });

  test("MP_REACH_NLRI next hop running past the attribute → 3/9", () => {
    expect(codes(updateError(raw({ attrs: "800e 05 0002 01 20 00" })))).toEqual([3, 9]);
  });

  test("MP_UNREACH_NLRI too short → 3/9", () => {
    expect(codes(updateError(raw({ attrs: "800f 02 0002" })))).toEqual([3, 9]);
  });

  test("MP_REACH_NLRI twice → 3/1", () => {
    const mp = "800e 0a 0001 01 04 c0000201 00 00";
    expect(codes(updateError(raw({ attrs: `${mp} ${mp} 40010100 40020602010000fde9` })))).toEqual([
      3, 1,
    ]);
  });

  test("unrecognized well-known attribute → 3/2 with the attribute", () => {
    const e = updateError(raw({ attrs: `${MANDATORY} 4063 02 abcd`, nlri: "080a" }));
    expect(codes(e)).toEqual([3, 2]);
    expect(toHex(e.data)).toBe("406302abcd");
  });

  test("attribute framing error with no NLRI at all → 3/1", () => {
    expect(codes(updateError(raw({ attrs: "40010500" })))).toEqual([3, 1]);
  });
});

describe("decodeUpdate: RFC 7606 treat-as-withdraw and attribute-discard", () => {
  const cases: [string, string, number, string][] = [
    ["missing ORIGIN", "40020602010000fde9 400304c0000201", 3, "01"],
    ["missing AS_PATH", "40010100 400304c0000201", 3, "02"],
    ["missing NEXT_HOP", "40010100 40020602010000fde9", 3, "03"],
    ["ORIGIN value 3", "40010103 40020602010000fde9 400304c0000201", 6, "40010103"],
    ["ORIGIN length 2", "4001020000 40020602010000fde9 400304c0000201", 5, "4001020000"],
    ["NEXT_HOP length 5", "40010100 40020602010000fde9 400305c000020100", 5, "400305c000020100"],
    ["ORIGIN flagged optional", "c0010100 40020602010000fde9 400304c0000201", 4, "c0010100"],
    ["MED length 3", `${MANDATORY} 800403000001`, 5, "800403000001"],
    ["LOCAL_PREF length 0", `${MANDATORY} 400500`, 5, "400500"],
    ["COMMUNITIES length 3", `${MANDATORY} c00803000001`, 5, "c00803000001"],
    [
      "LARGE_COMMUNITIES length 8",
      `${MANDATORY} c020080000000100000002`,
      5,
      "c020080000000100000002",
    ],
    ["EXTENDED_COMMUNITIES length 4", `${MANDATORY} c0100400000001`, 5, "c0100400000001"],
    ["AS_PATH with AS 0", "40010100 400206020100000000 400304c0000201", 11, ""],
    ["AS_PATH segment type 5", "40010100 40020605010000fde9 400304c0000201", 11, ""],
    ["AS_PATH empty segment", "40010100 4002020200 400304c0000201", 11, ""],
  ];
  for (const [name, attrs, subcode, data] of cases) {
    test(`${name} → 3/${subcode}, routes withdrawn`, () => {
      const u = decodeUpdate(raw({ attrs, nlri: "080a" }), AS4);
      expect(u.treatAsWithdraw).toBe(true);
      expect(problems(u)).toEqual([["treat-as-withdraw", 3, subcode, data]]);
      expect(updatePrefixes(u).announced).toEqual(["10.0.0.0/8"]);
      expect(() =>
        decodeUpdate(raw({ attrs, nlri: "080a" }), { ...AS4, errorHandling: "rfc4271" }),
      ).toThrow(BgpNotificationError);
    });
  }

  test("MP_REACH_NLRI alone does not need NEXT_HOP; it needs ORIGIN and AS_PATH", () => {
    const mp = "800e 15 0002 01 10 20010db8000000000000000000000001 00";
    const ok = decodeUpdate(raw({ attrs: `${mp} 40010100 40020602010000fde9` }), AS4);
    expect(ok.problems).toEqual([]);
    const bad = decodeUpdate(raw({ attrs: `${mp} 40010100` }), AS4);
    expect(problems(bad)).toEqual([["treat-as-withdraw", 3, 3, "02"]]);
  });

  test("AS_CONFED segment from an external peer → treat-as-withdraw; fine from internal", () => {
    const attrs = "40010100 40020603010000fde9 400304c0000201";
    expect(
      decodeUpdate(raw({ attrs, nlri: "080a" }), { ...AS4, external: true }).treatAsWithdraw,
    ).toBe(true);
    expect(
      decodeUpdate(raw({ attrs, nlri: "080a" }), { ...AS4, external: false }).treatAsWithdraw,
    ).toBe(false);
  });

  test("attribute overrunning the list → treat-as-withdraw (3/1), NLRI still found", () => {
    const u = decodeUpdate(raw({ attrs: `${MANDATORY} c0080800000001`, nlri: "080a" }), AS4);
    expect(problems(u)).toEqual([["treat-as-withdraw", 3, 1, ""]]);
    expect(updatePrefixes(u).announced).toEqual(["10.0.0.0/8"]);
  });

  test("bad ATOMIC_AGGREGATE and AGGREGATOR lengths → attribute discarded, routes kept", () => {
    const u = decodeUpdate(
      raw({ attrs: `${MANDATORY} 400601ff c00706fde9c0000201`, nlri: "080a" }),
      AS4,
    );
    expect(u.treatAsWithdraw).toBe(false);
    expect(u.problems.map((p) => [p.action, p.error.subcode])).toEqual([
      ["attribute-discard", 5],
      ["attribute-discard", 5],
    ]);
    expect(u.attributes.map((a) => a.type)).toEqual([1, 2, 3]);
  });

  test("AGGREGATOR of 6 octets is right without 4-octet AS", () => {
    const attrs = "40010100 400204 0201fde9 400304c0000201 c00706fde9c0000201";
    const u = decodeUpdate(raw({ attrs, nlri: "080a" }), AS2);
    expect(u.problems).toEqual([]);
    expect(decodePathAttributes(u).aggregator).toEqual({ asn: 65001, address: "192.0.2.1" });
  });

  test("malformed AS4_PATH is discarded (RFC 6793)", () => {
    const attrs = "40010100 400204 0201fde9 400304c0000201 c01103 020100";
    const u = decodeUpdate(raw({ attrs, nlri: "080a" }), AS2);
    expect(u.problems.map((p) => p.action)).toEqual(["attribute-discard"]);
    expect(u.treatAsWithdraw).toBe(false);
  });

  test("AS4_PATH is decoded for a 2-octet session", () => {
    const attrs = "40010100 400204 02015ba0 400304c0000201 c01106 0201fa56ea00";
    const a = decodePathAttributes(decodeUpdate(raw({ attrs, nlri: "080a" }), AS2));
    expect(a.asPathList).toEqual([23456]);
    expect(a.as4Path).toEqual([{ type: 2, asns: [4200000000] }]);
  });

  test("a repeated attribute: later copies discarded", () => {
    const u = decodeUpdate(raw({ attrs: `${MANDATORY} 40010102`, nlri: "080a" }), AS4);
    expect(u.problems.map((p) => [p.action, p.error.subcode])).toEqual([["attribute-discard", 1]]);
    expect(decodePathAttributes(u).origin).toBe(0);
  });

  test("unknown optional attributes pass", () => {
    const u = decodeUpdate(raw({ attrs: `${MANDATORY} c0c8 00 80c9 02 abcd`, nlri: "080a" }), AS4);
    expect(u.problems).toEqual([]);
  });

  test("ADD-PATH NLRI carry path identifiers", () => {
    const u = decodeUpdate(
      raw({ withdrawn: "00000007 080b", attrs: MANDATORY, nlri: "00000001 080a 00000002 080a" }),
      {
        ...AS4,
        addPath: { ipv4: true },
      },
    );
    expect(updatePrefixes(u)).toEqual({
      announced: ["10.0.0.0/8", "10.0.0.0/8"],
      withdrawn: ["11.0.0.0/8"],
    });
    expect(
      codes(
        updateError(raw({ attrs: MANDATORY, nlri: "000000" }), { ...AS4, addPath: { ipv4: true } }),
      ),
    ).toEqual([3, 10]);
  });

  test("host bits beyond the prefix length are ignored in text", () => {
    const u = decodeUpdate(raw({ attrs: MANDATORY, nlri: "0a 0aff" }), AS4);
    expect(updatePrefixes(u).announced).toEqual(["10.192.0.0/10"]);
  });
});

describe("decodeUpdate: per-UPDATE cost", () => {
  test("creates no closure per UPDATE or attribute, even before the engine optimizes it", () => {
    // The built-in collector decodes every UPDATE; the engine's lower tiers allocate each
    // closure a function defines, and the scope it captures, on every call.
    const n = 4000;
    const bodies = Array.from({ length: n }, (_, i) =>
      body(
        encodeUpdate({
          origin: 0,
          asPath: [65001, 64500 + (i % 7)],
          nextHop: "192.0.2.1",
          med: i,
          communities: [(65001 << 16) | (i & 0xffff)],
          nlri: [`10.${(i >> 8) & 255}.${i & 255}.0/24`],
          ...(i % 2 === 0
            ? { mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:1::/48"] } }
            : {}),
        }),
      ),
    );
    let withdrawn = 0;
    const grown = cellsAllocatedBy(() => {
      for (const b of bodies) if (decodeUpdate(b, AS4).treatAsWithdraw) withdrawn++;
    }, ["Function", "JSLexicalEnvironment"]);
    expect(withdrawn).toBe(0);
    expect(grown).toBeLessThan(n / 4);
  });
});

describe("decodeUpdate: robustness", () => {
  const valid = [
    fixture("update-ipv4-as4"),
    fixture("update-ipv4-as2"),
    fixture("update-ipv6-linklocal"),
    fixture("update-withdraw"),
    fixture("update-eor-ipv6"),
    encodeUpdate({
      withdrawn: ["198.51.100.0/24"],
      nlri: ["203.0.113.0/24"],
      origin: 1,
      asPath: [64496, 64497],
      nextHop: "192.0.2.1",
      med: 5,
      communities: ["1:2"],
      largeCommunities: [[1, 2, 3]],
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8::/32"] },
      mpUnreach: { afi: 2, withdrawn: ["2001:db8:2::/48"] },
    }),
  ];

  function exercise(b: Uint8Array, options: UpdateDecodeOptions): void {
    const u = decodeUpdate(b, options);
    updatePrefixes(u);
    decodePathAttributes(u);
  }

  test("body truncated at every position: BgpNotificationError or a result, nothing else", () => {
    for (const msg of valid) {
      const full = body(msg);
      for (let i = 0; i < full.length; i++) {
        for (const options of [AS4, AS2]) {
          try {
            exercise(full.subarray(0, i), options);
          } catch (err) {
            expect(err).toBeInstanceOf(BgpNotificationError);
          }
        }
      }
    }
  });

  test("message truncated at every position through the framer (length patched)", () => {
    for (const msg of valid) {
      for (let len = 19; len < msg.length; len++) {
        const cut = msg.slice(0, len);
        cut[16] = len >> 8;
        cut[17] = len & 0xff;
        try {
          for (const f of new BgpFramer().push(cut)) exercise(f.body, AS4);
        } catch (err) {
          expect(err).toBeInstanceOf(BgpNotificationError);
        }
      }
    }
  });

  test("2000 random bit flips: BgpNotificationError or a result, nothing else", () => {
    const rand = prng(7606);
    let thrown = 0;
    let withdrawn = 0;
    for (let i = 0; i < 2000; i++) {
      const b = body(valid[i % valid.length] as Uint8Array).slice();
      const flips = 1 + Math.floor(rand() * 6);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rand() * b.length);
        b[at] = (b[at] as number) ^ (1 << Math.floor(rand() * 8));
      }
      try {
        exercise(b, i % 3 === 0 ? AS2 : AS4);
        if (decodeUpdate(b, AS4).treatAsWithdraw) withdrawn++;
      } catch (err) {
        expect(err).toBeInstanceOf(BgpNotificationError);
        thrown++;
      }
    }
    expect(thrown).toBeGreaterThan(0);
    expect(withdrawn).toBeGreaterThan(0);
  });

  test("2000 random byte overwrites and insertions", () => {
    const rand = prng(4760);
    for (let i = 0; i < 2000; i++) {
      const src = body(valid[i % valid.length] as Uint8Array);
      const at = Math.floor(rand() * src.length);
      const b =
        i % 2 === 0
          ? concat(src.subarray(0, at), Uint8Array.of(Math.floor(rand() * 256)), src.subarray(at))
          : src.slice();
      b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        exercise(b, AS4);
      } catch (err) {
        expect(err).toBeInstanceOf(BgpNotificationError);
      }
    }
  });

  test("encodeUpdateBody equals the message body", () => {
    const spec = { origin: 0, asPath: [1], nextHop: "192.0.2.1", nlri: ["10.0.0.0/8"] };
    expect(toHex(encodeUpdateBody(spec))).toBe(toHex(body(encodeUpdate(spec))));
  });
});
