import { describe, expect, test } from "bun:test";
import { AS_TRANS, CapabilityCode } from "../../src/bgp/constants.ts";
import { BgpNotificationError } from "../../src/bgp/notification-error.ts";
import { decodeOpen, encodeOpen, type OpenSpec } from "../../src/bgp/open.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { fixture, hex, prng, toHex } from "../fixtures/bgp/hex.ts";

const body = (message: Uint8Array) => message.subarray(19);

function openError(bytes: Uint8Array): BgpNotificationError {
  try {
    decodeOpen(bytes);
  } catch (err) {
    if (err instanceof BgpNotificationError) return err;
    throw err;
  }
  throw new Error("no error thrown");
}

/** An OPEN body with the given fields and raw optional parameters. */
function openBody(o: {
  version?: number;
  as?: number;
  hold?: number;
  id?: string;
  params?: string;
}) {
  const params = hex(o.params ?? "");
  return hex(
    [
      (o.version ?? 4).toString(16).padStart(2, "0"),
      (o.as ?? 65001).toString(16).padStart(4, "0"),
      (o.hold ?? 90).toString(16).padStart(4, "0"),
      o.id ?? "c0000201",
      params.length.toString(16).padStart(2, "0"),
      o.params ?? "",
    ].join(""),
  );
}

const baseSpec: OpenSpec = {
  asn: 65001,
  holdTime: 180,
  routerId: "192.0.2.1",
  capabilities: {
    multiprotocol: [
      { afi: 1, safi: 1 },
      { afi: 2, safi: 1 },
    ],
    routeRefresh: true,
  },
};

describe("decodeOpen: golden vectors", () => {
  test("AS 65001 with MP IPv4/IPv6, route refresh, 4-octet AS", () => {
    const open = decodeOpen(body(fixture("open-as65001")));
    expect(open).toMatchObject({
      version: 4,
      myAs: 65001,
      asn: 65001,
      holdTime: 180,
      routerId: "192.0.2.1",
      extendedParameters: false,
    });
    expect(open.capabilities).toEqual({
      multiprotocol: [
        { afi: 1, safi: 1 },
        { afi: 2, safi: 1 },
      ],
      fourOctetAs: 65001,
      routeRefresh: true,
      enhancedRouteRefresh: false,
      extendedMessage: false,
      addPath: [],
      other: [],
    });
  });

  test("4-octet ASN: AS_TRANS in the 2-octet field, the real ASN from the capability", () => {
    const open = decodeOpen(body(fixture("open-as4200000000")));
    expect(open.myAs).toBe(AS_TRANS);
    expect(open.asn).toBe(4200000000);
    expect(open.routerId).toBe("198.51.100.1");
    expect(open.holdTime).toBe(90);
  });

  test("no optional parameters: the ASN is the 2-octet field", () => {
    const open = decodeOpen(openBody({ as: 64512 }));
    expect(open.asn).toBe(64512);
    expect(open.capabilities.fourOctetAs).toBeUndefined();
    expect(open.capabilities.multiprotocol).toEqual([]);
  });
});

describe("encodeOpen", () => {
  test("reproduces the golden OPEN byte for byte", () => {
    expect(toHex(encodeOpen(baseSpec))).toBe(toHex(fixture("open-as65001")));
  });

  test("puts AS_TRANS in the 2-octet field for an ASN above 65535", () => {
    const msg = encodeOpen({ ...baseSpec, asn: 4200000000 });
    expect(((msg[20] as number) << 8) | (msg[21] as number)).toBe(AS_TRANS);
    const open = decodeOpen(body(msg));
    expect(open.asn).toBe(4200000000);
    expect(open.capabilities.fourOctetAs).toBe(4200000000);
  });

  test("round trips every interpreted capability", () => {
    const spec: OpenSpec = {
      asn: 65010,
      holdTime: 0,
      routerId: "10.1.2.3",
      capabilities: {
        multiprotocol: [{ afi: 2, safi: 1 }],
        routeRefresh: true,
        enhancedRouteRefresh: true,
        extendedMessage: true,
        gracefulRestart: {
          restarting: true,
          notification: false,
          restartTime: 120,
          families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
        },
        addPath: [{ afi: 1, safi: 1, sendReceive: 3 }],
        other: [{ code: 73, value: hex("0568656c6c6f00") }],
      },
    };
    const open = decodeOpen(body(encodeOpen(spec)));
    expect(open.holdTime).toBe(0);
    expect(open.routerId).toBe("10.1.2.3");
    expect(open.capabilities).toEqual({
      multiprotocol: [{ afi: 2, safi: 1 }],
      fourOctetAs: 65010,
      routeRefresh: true,
      enhancedRouteRefresh: true,
      extendedMessage: true,
      gracefulRestart: spec.capabilities?.gracefulRestart,
      addPath: [{ afi: 1, safi: 1, sendReceive: 3 }],
      other: [{ code: 73, value: hex("0568656c6c6f00") }],
    } as never);
  });

  test("uses the RFC 9072 extended parameters form only when needed", () => {
    const big = Array.from({ length: 30 }, (_, i) => ({ code: 200 + i, value: new Uint8Array(8) }));
    const msg = encodeOpen({ ...baseSpec, capabilities: { other: big } });
    expect(msg[28]).toBe(255); // Non-Ext OP Len
    expect(msg[29]).toBe(255); // Non-Ext OP Type
    const open = decodeOpen(body(msg));
    expect(open.extendedParameters).toBe(true);
    expect(open.capabilities.other).toHaveLength(30);
    expect(open.capabilities.fourOctetAs).toBe(65001);
    expect(decodeOpen(body(encodeOpen(baseSpec))).extendedParameters).toBe(false);
  });

  test("refuses values it cannot send", () => {
    expect(() => encodeOpen({ ...baseSpec, holdTime: 2 })).toThrow(BgpProxyError);
    expect(() => encodeOpen({ ...baseSpec, holdTime: 70000 })).toThrow(BgpProxyError);
    expect(() => encodeOpen({ ...baseSpec, asn: 0 })).toThrow(BgpProxyError);
    expect(() => encodeOpen({ ...baseSpec, routerId: "0.0.0.0" })).toThrow(BgpProxyError);
    expect(() => encodeOpen({ ...baseSpec, routerId: "1.2.3" })).toThrow(BgpProxyError);
    expect(() =>
      encodeOpen({ ...baseSpec, asn: 4200000000, capabilities: { fourOctetAs: false } }),
    ).toThrow(BgpProxyError);
  });
});

describe("decodeOpen: errors (RFC 4271 §6.2)", () => {
  test("version 3 → 2/1 Unsupported Version Number, data = version 4", () => {
    const err = openError(openBody({ version: 3 }));
    expect([err.code, err.subcode, toHex(err.data)]).toEqual([2, 1, "0004"]);
  });

  test("version 5 → 2/1", () => {
    expect(openError(openBody({ version: 5 })).subcode).toBe(1);
  });

  test("hold time 1 or 2 → 2/6 Unacceptable Hold Time; 0 and 3 are fine", () => {
    expect([
      openError(openBody({ hold: 1 })).code,
      openError(openBody({ hold: 1 })).subcode,
    ]).toEqual([2, 6]);
    expect(openError(openBody({ hold: 2 })).subcode).toBe(6);
    expect(decodeOpen(openBody({ hold: 0 })).holdTime).toBe(0);
    expect(decodeOpen(openBody({ hold: 3 })).holdTime).toBe(3);
  });

  test("BGP identifier 0.0.0.0 → 2/3 Bad BGP Identifier", () => {
    const err = openError(openBody({ id: "00000000" }));
    expect([err.code, err.subcode]).toEqual([2, 3]);
  });

  test("AS 0 → 2/2 Bad Peer AS (RFC 7607), in the field or the capability", () => {
    expect(openError(openBody({ as: 0 })).subcode).toBe(2);
    expect(openError(openBody({ as: AS_TRANS, params: "0206 4104 00000000" })).subcode).toBe(2);
  });

  test("an optional parameter other than capabilities → 2/4", () => {
    const err = openError(openBody({ params: "0102 abcd" }));
    expect([err.code, err.subcode]).toEqual([2, 4]);
  });

  test("parameter lengths that do not add up → 2/0", () => {
    const good = openBody({ params: "0206 0104 0001 0001" });
    good[9] = 9; // claims one octet more than present
    expect([openError(good).code, openError(good).subcode]).toEqual([2, 0]);
    expect(openError(openBody({ params: "0207 0104 0001 0001 00" })).subcode).toBe(0);
    expect(openError(openBody({ params: "0203 0105 00" })).subcode).toBe(0);
    expect(openError(openBody({ params: "02" })).subcode).toBe(0);
  });

  test("multiprotocol or 4-octet AS capability of the wrong size → 2/0", () => {
    expect(openError(openBody({ params: "0205 0103 000100" })).subcode).toBe(0);
    expect(openError(openBody({ params: "0205 4103 000100" })).subcode).toBe(0);
  });

  test("unknown capabilities are kept raw; odd-sized graceful restart is kept raw", () => {
    const open = decodeOpen(openBody({ params: "020b 4d02 abcd 4003 000000 0200" }));
    expect(open.capabilities.other).toEqual([
      { code: 77, value: hex("abcd") },
      { code: CapabilityCode.GRACEFUL_RESTART, value: hex("000000") },
    ]);
    expect(open.capabilities.routeRefresh).toBe(true);
  });

  test("capabilities may be spread over several parameters", () => {
    const open = decodeOpen(openBody({ params: "0206 0104 00010001 0206 4104 0000fde9" }));
    expect(open.capabilities.multiprotocol).toEqual([{ afi: 1, safi: 1 }]);
    expect(open.asn).toBe(65001);
  });

  test("RFC 9072 extended parameters with a truncated length → 2/0", () => {
    expect(openError(hex("04 fde9 005a c0000201 ff ff 00")).subcode).toBe(0);
  });

  test("truncated at every position: only BgpNotificationError", () => {
    const full = body(fixture("open-as65001"));
    for (let i = 0; i < full.length; i++) {
      expect(() => decodeOpen(full.subarray(0, i))).toThrow(BgpNotificationError);
    }
  });

  test("2000 random bit flips: decodes or throws BgpNotificationError only", () => {
    const rand = prng(4271);
    const sources = [body(fixture("open-as65001")), body(fixture("open-as4200000000"))];
    let errors = 0;
    for (let i = 0; i < 2000; i++) {
      const b = (sources[i % sources.length] as Uint8Array).slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rand() * b.length);
        b[at] = (b[at] as number) ^ (1 << Math.floor(rand() * 8));
      }
      try {
        decodeOpen(b);
      } catch (err) {
        expect(err).toBeInstanceOf(BgpNotificationError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});
