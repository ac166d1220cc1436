import { describe, expect, test } from "bun:test";
import { canonicalDeviceIp, canonicalIp, hostPort, normalizeIp } from "../../src/core/address.ts";

describe("hostPort", () => {
  test("IPv4 and names are host:port; IPv6 is bracketed", () => {
    expect(hostPort("10.0.0.1", 179)).toBe("10.0.0.1:179");
    expect(hostPort("gateway.example", 443)).toBe("gateway.example:443");
    expect(hostPort("2001:db8::1", 179)).toBe("[2001:db8::1]:179");
    expect(hostPort("::", 0)).toBe("[::]:0");
    expect(hostPort("::ffff:10.0.0.1", 1179)).toBe("[::ffff:10.0.0.1]:1179");
  });
});

describe("normalizeIp", () => {
  test("an IPv4-mapped IPv6 address becomes plain IPv4, in any letter case", () => {
    expect(normalizeIp("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(normalizeIp("::FFFF:192.0.2.33")).toBe("192.0.2.33");
  });

  test("IPv6 is lowercased and compressed", () => {
    expect(normalizeIp("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(normalizeIp("2001:0db8:0000:0000:0001:0000:0000:0001")).toBe("2001:db8::1:0:0:1");
    expect(normalizeIp("FE80::A")).toBe("fe80::a");
    expect(normalizeIp("0:0:0:0:0:0:0:1")).toBe("::1");
  });

  test("IPv4, already-normal IPv6 and non-addresses are unchanged; the result is stable", () => {
    for (const ip of ["10.0.0.1", "192.0.2.255", "2001:db8::1", "::1", "router.example", ""]) {
      expect(normalizeIp(ip)).toBe(ip);
    }
    for (const ip of ["::FFFF:10.0.0.1", "2001:DB8::0:1", "10.1.2.3"]) {
      expect(normalizeIp(normalizeIp(ip))).toBe(normalizeIp(ip));
    }
  });

  test("every spelling of an IPv4-mapped address becomes the same plain IPv4", () => {
    // One spelling per address (the module's contract): the full and the hex forms of
    // ::ffff:10.0.0.1 must not come out as a different string from the short form.
    expect(normalizeIp("0:0:0:0:0:ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(normalizeIp("::ffff:a00:1")).toBe("10.0.0.1");
  });
});

describe("canonicalIp / canonicalDeviceIp", () => {
  test("canonicalIp: IP literals only, IPv6 compressed and lowercased, zone kept", () => {
    expect(canonicalIp("192.0.2.1")).toBe("192.0.2.1");
    expect(canonicalIp("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(canonicalIp("FE80:0:0:0:0:0:0:1%eth0")).toBe("fe80::1%eth0");
    expect(canonicalIp("::ffff:10.0.0.1")).toBe("::ffff:a00:1");
    for (const bad of ["", "router.example", "10.0.0.256", "1.2.3", "2001:db8::g", "[::1]"]) {
      expect(canonicalIp(bad)).toBeUndefined();
    }
  });

  test("canonicalDeviceIp: an IPv4-mapped address in any spelling becomes IPv4", () => {
    for (const ip of ["::ffff:10.0.0.1", "::FFFF:a00:1", "0:0:0:0:0:ffff:0a00:0001"]) {
      expect(canonicalDeviceIp(ip)).toBe("10.0.0.1");
    }
    expect(canonicalDeviceIp("::ffff:255.254.0.1")).toBe("255.254.0.1");
    // Not mapped: IPv4-compatible (deprecated) and NAT64 prefixes stay IPv6.
    expect(canonicalDeviceIp("::10.0.0.1")).toBe("::a00:1");
    expect(canonicalDeviceIp("64:ff9b::10.0.0.1")).toBe("64:ff9b::a00:1");
    expect(canonicalDeviceIp("not an ip")).toBeUndefined();
  });

  test("hostPort brackets a zoned IPv6 address", () => {
    expect(hostPort("fe80::1%eth0", 179)).toBe("[fe80::1%eth0]:179");
  });
});
