import { describe, expect, test } from "bun:test";
import {
  formatIpv4,
  formatIpv6,
  numberToIpv4,
  parseIpv4,
  parseIpv6,
} from "../../src/bgp/ip-address.ts";
import {
  formatPrefix,
  ipv4PrefixKey,
  ipv6PrefixKey,
  parsePrefix,
  prefixFromNlri,
  prefixToString,
} from "../../src/bgp/prefix.ts";
import { ipv4ToNumber } from "../../src/core/address.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { hex, toHex } from "../fixtures/bgp/hex.ts";

describe("IP addresses", () => {
  test("IPv4 parse/format", () => {
    expect(Array.from(parseIpv4("192.0.2.1"))).toEqual([192, 0, 2, 1]);
    expect(ipv4ToNumber("255.255.255.255")).toBe(0xffffffff);
    expect(numberToIpv4(0xc0000201)).toBe("192.0.2.1");
    expect(formatIpv4(hex("0a000001"))).toBe("10.0.0.1");
    for (const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""]) {
      expect(() => parseIpv4(bad)).toThrow(BgpProxyError);
    }
  });

  test("IPv6 parse/format (RFC 5952)", () => {
    const cases: [string, string][] = [
      ["2001:db8::1", "20010db8000000000000000000000001"],
      ["::", "00000000000000000000000000000000"],
      ["::1", "00000000000000000000000000000001"],
      ["fe80::", "fe800000000000000000000000000000"],
      ["2001:db8:0:1:1:1:1:1", "20010db8000000010001000100010001"],
      ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ];
    for (const [text, bytes] of cases) {
      expect(toHex(parseIpv6(text))).toBe(bytes);
      expect(formatIpv6(hex(bytes))).toBe(text === "::ffff:192.0.2.1" ? "::ffff:c000:201" : text);
    }
    expect(formatIpv6(parseIpv6("2001:0:0:1:0:0:0:1"))).toBe("2001:0:0:1::1");
    expect(formatIpv6(parseIpv6("2001:DB8:0:0:1:0:0:1"))).toBe("2001:db8::1:0:0:1");
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::", ":::"]) {
      expect(() => parseIpv6(bad)).toThrow(BgpProxyError);
    }
  });
});

describe("prefixes", () => {
  test("parse and format", () => {
    expect(parsePrefix("10.0.0.0/8")).toEqual({ afi: 1, length: 8, bytes: hex("0a") });
    expect(parsePrefix("0.0.0.0/0")).toEqual({ afi: 1, length: 0, bytes: new Uint8Array(0) });
    expect(parsePrefix("2001:db8::/32")).toEqual({ afi: 2, length: 32, bytes: hex("20010db8") });
    expect(parsePrefix("192.0.2.1").length).toBe(32);
    expect(formatPrefix(parsePrefix("203.0.113.128/25"))).toBe("203.0.113.128/25");
    expect(formatPrefix(parsePrefix("2001:db8:8000::/33"))).toBe("2001:db8:8000::/33");
    for (const bad of [
      "10.0.0.1/8",
      "10.0.0.0/33",
      "2001:db8::/129",
      "10.0.0.0/x",
      "2001:db8::1/64",
    ]) {
      expect(() => parsePrefix(bad)).toThrow(BgpProxyError);
    }
  });

  test("NLRI octets to text and Prefix, host bits masked", () => {
    expect(prefixToString(1, 12, hex("0aff"), 0)).toBe("10.240.0.0/12");
    expect(prefixToString(2, 0, new Uint8Array(0), 0)).toBe("::/0");
    expect(prefixFromNlri(1, 12, hex("000aff"), 1)).toEqual({
      afi: 1,
      length: 12,
      bytes: hex("0af0"),
    });
  });

  test("IPv4 keys: exact, compact, host bits ignored", () => {
    const k = (s: string) => {
      const p = parsePrefix(s);
      return ipv4PrefixKey(p.length, p.bytes, 0);
    };
    expect(k("10.0.0.0/8")).toBe(0x0a000000 * 64 + 8);
    expect(k("255.255.255.255/32")).toBe(0xffffffff * 64 + 32);
    expect(k("0.0.0.0/0")).toBe(0);
    expect(k("10.0.0.0/8")).not.toBe(k("10.0.0.0/9"));
    expect(ipv4PrefixKey(8, hex("0a"), 0)).toBe(ipv4PrefixKey(8, hex("0a"), 0));
    expect(ipv4PrefixKey(10, hex("0aff"), 0)).toBe(k("10.192.0.0/10"));
    expect(Number.isSafeInteger(k("255.255.255.255/32"))).toBe(true);
  });

  test("IPv6 keys: exact, short, host bits ignored", () => {
    const k = (s: string) => {
      const p = parsePrefix(s);
      return ipv6PrefixKey(p.length, p.bytes, 0);
    };
    expect(k("2001:db8::/32")).not.toBe(k("2001:db8::/33"));
    expect(k("2001:db8::/32")).not.toBe(k("2001:db9::/32"));
    expect(ipv6PrefixKey(33, hex("20010db8ff"), 0)).toBe(k("2001:db8:8000::/33"));
    expect(ipv6PrefixKey(40, hex("20010db8ff"), 0)).toBe(k("2001:db8:ff00::/40"));
    expect(k("::/0")).toBe(String.fromCharCode(0));
    expect(k("2001:db8::1/128").length).toBe(9);
  });
});
