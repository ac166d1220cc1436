import { describe, expect, test } from "bun:test";
import { Afi, Safi } from "../../src/bgp/constants.ts";
import { prefixToString } from "../../src/bgp/prefix.ts";
import { decodeUpdate, updatePrefixes } from "../../src/bgp/update.ts";
import { encodeUpdateBody, type UpdateSpec } from "../../src/bgp/update-encoder.ts";
import { walkUpdatePrefixes } from "../../src/bgp/update-prefix-walk.ts";

function walk(body: Uint8Array, addPath = { ipv4: false, ipv6: false }) {
  const announced: string[] = [];
  const withdrawn: string[] = [];
  walkUpdatePrefixes(body, 0, body.length, addPath, {
    announce: (afi, _safi, length, buf, offset) =>
      announced.push(prefixToString(afi, length, buf, offset)),
    withdraw: (afi, _safi, length, buf, offset) =>
      withdrawn.push(prefixToString(afi, length, buf, offset)),
  });
  return { announced, withdrawn };
}

const specs: UpdateSpec[] = [
  { origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri: ["198.51.100.0/24", "0.0.0.0/0"] },
  { withdrawn: ["198.51.100.0/24", "10.0.0.0/8"] },
  {
    origin: 0,
    asPath: [65001, 4200000000],
    communities: ["65000:100"],
    mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:1::/48", "::/0", "2001:db8::1/128"] },
  },
  { mpUnreach: { afi: Afi.IPV6, withdrawn: ["2001:db8:1::/48"] } },
  {
    origin: 1,
    asPath: [65001],
    nextHop: "10.0.0.1",
    withdrawn: ["192.0.2.0/24"],
    nlri: ["203.0.113.128/25"],
    mpUnreach: { afi: Afi.IPV6, withdrawn: ["2001:db8:2::/64"] },
  },
];

describe("walkUpdatePrefixes", () => {
  test("finds the same prefixes as the full decoder", () => {
    for (const spec of specs) {
      const body = encodeUpdateBody(spec);
      const full = updatePrefixes(decodeUpdate(body, { fourOctetAs: true }));
      expect(walk(body)).toEqual(full);
    }
  });

  test("reads ADD-PATH identifiers when told to", () => {
    // One IPv4 NLRI with path id 7: 0,0,0,7, /24, 198.51.100
    const body = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 7, 24, 198, 51, 100]);
    expect(walk(body, { ipv4: true, ipv6: false }).announced).toEqual(["198.51.100.0/24"]);
    expect(() => walk(body)).toThrow(); // without ADD-PATH the bytes are not prefixes
  });

  test("keeps multicast apart (the visitor sees the SAFI) and throws on broken lengths", () => {
    const body = encodeUpdateBody({
      origin: 0,
      asPath: [65001],
      mpReach: { nextHop: "2001:db8::1", safi: Safi.MULTICAST, nlri: ["2001:db8:9::/48"] },
    });
    const safis: number[] = [];
    walkUpdatePrefixes(
      body,
      0,
      body.length,
      { ipv4: false, ipv6: false },
      {
        announce: (_a, safi) => safis.push(safi),
        withdraw: () => {},
      },
    );
    expect(safis).toEqual([Safi.MULTICAST]);
    expect(() => walk(body.subarray(0, body.length - 3))).toThrow();
    expect(() => walk(Uint8Array.from([0, 9, 0, 0]))).toThrow();
    // an UPDATE in the middle of a larger buffer: only its own bytes count
    const inside = new Uint8Array(body.length + 10);
    inside.set(body, 5);
    let n = 0;
    walkUpdatePrefixes(
      inside,
      5,
      5 + body.length,
      { ipv4: false, ipv6: false },
      {
        announce: () => n++,
        withdraw: () => {},
      },
    );
    expect(n).toBe(1);
  });
});
