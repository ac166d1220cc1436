import { describe, expect, test } from "bun:test";
import { decodeUpdate, updatePrefixes } from "../../src/bgp/update.ts";
import { encodeUpdateBody } from "../../src/bgp/update-encoder.ts";
import {
  type BmpPeer,
  encodeInitiation,
  encodePeerDown,
  encodePeerUp,
  encodeRouteMonitoring,
  encodeStatistics,
  encodeTermination,
  PeerDownReason,
} from "../../src/bmp/bmp-message.ts";
import { ribAsUpdates } from "../../src/bmp/rib-updates.ts";
import { AdjRibIn } from "../../src/collector/adj-rib-in.ts";
import { storedAttributesView } from "../../src/collector/stored-attributes.ts";
import { hex, toHex } from "../fixtures/bgp/hex.ts";

const peer: BmpPeer = {
  address: "10.0.0.1",
  asn: 65001,
  routerId: "10.0.0.1",
  legacyAsPath: false,
};
const perPeer = `00 00 0000000000000000 000000000000000000000000 0a000001 0000fde9 0a000001 000003e8 0007a120`;
const same = (bytes: Uint8Array, text: string) => expect(toHex(bytes)).toBe(toHex(hex(text)));

describe("BMP encoders (golden bytes, RFC 7854)", () => {
  test("Initiation: sysDescr and sysName TLVs", () => {
    same(encodeInitiation("n", "d"), "03 00000010 04  0001 0001 64  0002 0001 6e");
  });

  test("Termination: reason administratively closed", () => {
    same(encodeTermination(), "03 0000000c 05  0001 0002 0000");
  });

  test("Peer Down, remote closed without NOTIFICATION: the per-peer header and reason 4", () => {
    same(
      encodePeerDown(peer, 1_000_500, PeerDownReason.REMOTE_NO_NOTIFICATION),
      `03 00000031 02 ${perPeer} 04`,
    );
  });

  test("Route Monitoring carries the UPDATE as is; V and A flags", () => {
    const update = hex("ffffffffffffffffffffffffffffffff 0017 02 0000 0000");
    same(
      encodeRouteMonitoring(peer, 1_000_500, update),
      `03 00000047 00 ${perPeer} ${toHex(update)}`,
    );
    const v6 = encodeRouteMonitoring(
      { ...peer, address: "2001:db8::1", legacyAsPath: true },
      0,
      update,
    );
    expect(v6[7]).toBe(0xa0);
    expect(toHex(v6.subarray(16, 32))).toBe("20010db8000000000000000000000001");
  });

  test("Peer Up: local address and ports, then both OPENs", () => {
    const sent = hex("aa bb");
    const received = hex("cc");
    same(
      encodePeerUp(peer, 1_000_500, {
        localAddress: "10.0.0.2",
        localPort: 179,
        remotePort: 50000,
        sentOpen: sent,
        receivedOpen: received,
      }),
      `03 00000047 03 ${perPeer} 000000000000000000000000 0a000002 00b3 c350 aabb cc`,
    );
  });

  test("Statistics Report: Adj-RIB-In routes (type 7) and per AFI/SAFI (type 9), 64-bit gauges", () => {
    same(
      encodeStatistics(peer, 1_000_500, { ipv4: 3, ipv6: 2 }),
      `03 0000005e 01 ${perPeer} 00000003
       0007 0008 0000000000000005
       0009 000b 0001 01 0000000000000003
       0009 000b 0002 01 0000000000000002`,
    );
  });
});

describe("the RIB replayed as UPDATEs", () => {
  test("every route once with its attributes, packed per attribute set, then End-of-RIB twice", () => {
    const rib = new AdjRibIn();
    const feed = (spec: Parameters<typeof encodeUpdateBody>[0]) =>
      rib.apply(decodeUpdate(encodeUpdateBody(spec), { fourOctetAs: true }));
    const v4 = Array.from({ length: 700 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    feed({
      origin: 0,
      asPath: [65001, 174],
      nextHop: "192.0.2.1",
      communities: ["65001:1"],
      nlri: v4.slice(0, 350),
    });
    feed({
      origin: 0,
      asPath: [65001, 174],
      nextHop: "192.0.2.1",
      communities: ["65001:1"],
      nlri: v4.slice(350),
    });
    feed({ origin: 0, asPath: [65001, 3356], nextHop: "192.0.2.1", nlri: ["192.0.2.0/24"] });
    feed({
      origin: 2,
      asPath: [65001],
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8::/32", "2001:db8:1::/48"] },
    });
    const seen = new Map<string, string[]>();
    const updates: Uint8Array[] = [];
    ribAsUpdates(rib, (u) => updates.push(u));
    for (const u of updates.slice(0, -2)) {
      expect(u.length).toBeLessThanOrEqual(4096);
      const d = decodeUpdate(u.subarray(19), { fourOctetAs: true });
      expect(d.problems).toEqual([]);
      for (const p of updatePrefixes(d).announced) {
        expect(seen.has(p)).toBe(false);
        const check = new AdjRibIn();
        check.apply(d);
        const e = check.exact(p);
        seen.set(
          p,
          e ? storedAttributesView(check.attributes.get(e.attrs)).asPath.map(String) : [],
        );
      }
    }
    expect(seen.size).toBe(703);
    expect(seen.get("10.1.10.0/24")).toEqual(["65001", "174"]);
    expect(seen.get("192.0.2.0/24")).toEqual(["65001", "3356"]);
    expect(seen.get("2001:db8:1::/48")).toEqual(["65001"]);
    // 700 /24s at 4 octets each need at least 1 + 700*4/4096 UPDATEs; far fewer than 700.
    expect(updates.length).toBeLessThan(10);
    expect(
      decodeUpdate((updates.at(-2) as Uint8Array).subarray(19), { fourOctetAs: true }).endOfRib,
    ).toEqual({ afi: 1, safi: 1 });
    expect(
      decodeUpdate((updates.at(-1) as Uint8Array).subarray(19), { fourOctetAs: true }).endOfRib,
    ).toEqual({ afi: 2, safi: 1 });
  });
});
