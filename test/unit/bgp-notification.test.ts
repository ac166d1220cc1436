import { describe, expect, test } from "bun:test";
import {
  describeError,
  errorCodeName,
  errorSubcodeName,
  messageTypeName,
} from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import {
  decodeNotification,
  describeNotification,
  encodeNotification,
  notificationFromError,
  shutdownCommunication,
} from "../../src/bgp/notification.ts";
import { BgpNotificationError } from "../../src/bgp/notification-error.ts";
import { decodeRouteRefresh, encodeRouteRefresh } from "../../src/bgp/route-refresh.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { fixture, hex, toHex } from "../fixtures/bgp/hex.ts";

describe("KEEPALIVE", () => {
  test("is the 19-octet header", () => {
    expect(toHex(encodeKeepalive())).toBe(toHex(fixture("keepalive")));
  });
});

describe("NOTIFICATION", () => {
  test("golden Cease/Administrative Shutdown with an RFC 9003 message", () => {
    const msg = fixture("notification-cease-shutdown");
    const n = decodeNotification(msg.subarray(19));
    expect(n.code).toBe(6);
    expect(n.subcode).toBe(2);
    expect(n.shutdownMessage).toBe("maint");
    expect(describeNotification(n)).toBe('Cease/Administrative Shutdown (6/2): "maint"');
    const again = encodeNotification({ code: 6, subcode: 2, data: shutdownCommunication("maint") });
    expect(toHex(again)).toBe(toHex(msg));
  });

  test("round trip with data", () => {
    const msg = encodeNotification({ code: 1, subcode: 2, data: hex("1001") });
    expect(toHex(msg)).toBe(`${"ff".repeat(16)}00170301021001`);
    const n = decodeNotification(msg.subarray(19));
    expect([n.code, n.subcode, toHex(n.data)]).toEqual([1, 2, "1001"]);
    expect(n.shutdownMessage).toBeUndefined();
  });

  test("data is copied out of the received buffer", () => {
    const b = hex("0302 aa");
    const n = decodeNotification(b);
    b[2] = 0;
    expect(toHex(n.data)).toBe("aa");
  });

  test("bad shutdown communication bytes are not a message", () => {
    expect(decodeNotification(hex("0602 09 6162")).shutdownMessage).toBeUndefined();
    expect(decodeNotification(hex("0602 02 c328")).shutdownMessage).toBeUndefined();
    expect(decodeNotification(hex("0604 00")).shutdownMessage).toBeUndefined();
    expect(decodeNotification(hex("0302 01 41")).shutdownMessage).toBeUndefined();
  });

  test("shutdown communication is cut at 255 octets on a character boundary", () => {
    const data = shutdownCommunication("é".repeat(200));
    expect(data[0]).toBe(254);
    expect(decodeNotification(new Uint8Array([6, 4, ...data])).shutdownMessage).toBe(
      "é".repeat(127),
    );
  });

  test("a body shorter than 2 octets → 1/2", () => {
    expect(() => decodeNotification(hex("06"))).toThrow(BgpNotificationError);
  });

  test("notificationFromError carries code, subcode and data", () => {
    const err = new BgpNotificationError(2, 1, "version 3", hex("0004"));
    expect(toHex(notificationFromError(err).subarray(18))).toBe("0302010004");
    expect(err).toBeInstanceOf(BgpProxyError);
    expect(err.message).toBe("OPEN Message Error/Unsupported Version Number (2/1): version 3");
  });
});

describe("names", () => {
  test("codes and subcodes from RFC 4271, 4486, 6608, 7313", () => {
    expect(describeError(4, 0)).toBe("Hold Timer Expired/Unspecific (4/0)");
    expect(describeError(6, 8)).toBe("Cease/Out of Resources (6/8)");
    expect(describeError(5, 3)).toBe(
      "Finite State Machine Error/Receive Unexpected Message in Established State (5/3)",
    );
    expect(errorSubcodeName(3, 11)).toBe("Malformed AS_PATH");
    expect(errorSubcodeName(1, 1)).toBe("Connection Not Synchronized");
    expect(errorSubcodeName(7, 1)).toBe("Invalid Message Length");
    expect(errorCodeName(9)).toBe("error code 9");
    expect(errorSubcodeName(6, 99)).toBe("subcode 99");
    for (let s = 1; s <= 8; s++) expect(errorSubcodeName(6, s)).not.toMatch(/^subcode/);
    expect(messageTypeName(5)).toBe("ROUTE-REFRESH");
    expect(messageTypeName(9)).toBe("type 9");
  });
});

describe("ROUTE-REFRESH", () => {
  test("round trip", () => {
    const msg = encodeRouteRefresh(2, 1);
    expect(toHex(msg.subarray(16))).toBe("00170500020001");
    expect(decodeRouteRefresh(msg.subarray(19))).toEqual({ afi: 2, safi: 1, subtype: 0 });
  });

  test("too short → 7/1", () => {
    try {
      decodeRouteRefresh(hex("0001"));
      throw new Error("no error");
    } catch (err) {
      expect(err).toBeInstanceOf(BgpNotificationError);
      expect([(err as BgpNotificationError).code, (err as BgpNotificationError).subcode]).toEqual([
        7, 1,
      ]);
    }
  });
});
