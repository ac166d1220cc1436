import { describe, expect, test } from "bun:test";
import { parseSynPacket } from "../../src/agent/md5/syn-packet.ts";
import {
  ACK,
  aoOption,
  LINUX_SYN_OPTIONS,
  md5Option,
  SYN,
  tcpPacket,
} from "../support/tcp-packets.ts";

function ok(packet: Uint8Array) {
  const r = parseSynPacket(packet);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.syn;
}

describe("parseSynPacket", () => {
  test("IPv4 SYN without options: addresses, ports, no signature", () => {
    expect(
      ok(tcpPacket({ src: "10.255.1.1", dst: "10.255.1.2", srcPort: 40_123, dstPort: 179 })),
    ).toEqual({
      family: 4,
      source: "10.255.1.1",
      sourcePort: 40_123,
      destination: "10.255.1.2",
      destinationPort: 179,
      md5: false,
    });
  });

  test("IPv4 SYN with Linux's usual options: no signature", () => {
    const syn = ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: LINUX_SYN_OPTIONS }));
    expect(syn.md5).toBe(false);
    expect(syn.ao).toBeUndefined();
  });

  test("the MD5 option is found first, last, after NOPs and after IP options", () => {
    const cases = [
      [...md5Option(), ...LINUX_SYN_OPTIONS],
      [...LINUX_SYN_OPTIONS, ...md5Option()],
      [1, 1, 1, ...md5Option(), 0],
    ];
    for (const options of cases) {
      expect(ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options })).md5).toBe(true);
      expect(ok(tcpPacket({ src: "fd00::1", dst: "fd00::2", options })).md5).toBe(true);
    }
    const withIpOptions = tcpPacket({
      src: "10.0.0.1",
      dst: "10.0.0.2",
      ipOptions: 12,
      options: md5Option(),
    });
    expect(ok(withIpOptions).md5).toBe(true);
  });

  test("IPv6 SYN: addresses in the agent's normalized spelling", () => {
    const syn = ok(
      tcpPacket({ src: "fd00:255:1:0::1", dst: "FD00:255:1::2", options: md5Option() }),
    );
    expect(syn).toMatchObject({
      family: 6,
      source: "fd00:255:1::1",
      destination: "fd00:255:1::2",
      md5: true,
    });
  });

  test("the TCP-AO option gives its KeyID and RNextKeyID", () => {
    const syn = ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: aoOption(3, 4) }));
    expect(syn.ao).toEqual({ keyId: 3, rnextKeyId: 4 });
    expect(syn.md5).toBe(false);
  });

  test("an option after EOL, a wrong MD5 length or a malformed option is not a signature", () => {
    const afterEol = [0, 0, 0, 0, ...md5Option()];
    expect(ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: afterEol })).md5).toBe(false);
    const shortMd5 = [19, 10, ...Array(8).fill(1)];
    expect(ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: shortMd5 })).md5).toBe(false);
    const zeroLength = [8, 0, ...md5Option()];
    expect(ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: zeroLength })).md5).toBe(
      false,
    );
    const overrun = [8, 60, ...md5Option()];
    expect(ok(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: overrun })).md5).toBe(false);
  });

  test("an option cut by the capture length is not read past the end", () => {
    const p = tcpPacket({
      src: "10.0.0.1",
      dst: "10.0.0.2",
      options: [...LINUX_SYN_OPTIONS, ...md5Option()],
    });
    // The MD5 option starts at 20 (IP) + 20 (TCP) + 20 (options): cut inside it.
    expect(ok(p.subarray(0, 70)).md5).toBe(false);
    expect(ok(p).md5).toBe(true);
  });

  test("refuses what is not a SYN: SYN-ACK, ACK, no SYN flag", () => {
    const v4 = { src: "10.0.0.1", dst: "10.0.0.2" };
    expect(parseSynPacket(tcpPacket({ ...v4, flags: SYN | ACK }))).toEqual({
      ok: false,
      reason: "ACK set",
    });
    expect(parseSynPacket(tcpPacket({ ...v4, flags: ACK }))).toMatchObject({ ok: false });
    expect(parseSynPacket(tcpPacket({ ...v4, flags: 0x01 }))).toEqual({
      ok: false,
      reason: "SYN not set",
    });
  });

  test("refuses other protocols, fragments, extension headers, other versions", () => {
    expect(parseSynPacket(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", protocol: 17 }))).toEqual({
      ok: false,
      reason: "not TCP",
    });
    expect(
      parseSynPacket(tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", fragmentOffset: 1 })),
    ).toEqual({ ok: false, reason: "IPv4 fragment" });
    expect(
      parseSynPacket(tcpPacket({ src: "fd00::1", dst: "fd00::2", nextHeader: 0 })),
    ).toMatchObject({ ok: false });
    const v5 = tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2" });
    v5[0] = 0x55;
    expect(parseSynPacket(v5)).toEqual({ ok: false, reason: "IP version 5" });
  });

  test("refuses truncated packets at every length, and bad header lengths", () => {
    const v4 = tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", options: md5Option() });
    for (let n = 0; n < 40; n++) expect(parseSynPacket(v4.subarray(0, n)).ok).toBe(false);
    const v6 = tcpPacket({ src: "fd00::1", dst: "fd00::2", options: md5Option() });
    for (let n = 0; n < 60; n++) expect(parseSynPacket(v6.subarray(0, n)).ok).toBe(false);
    const badIhl = Uint8Array.from(v4);
    badIhl[0] = 0x44;
    expect(parseSynPacket(badIhl)).toEqual({ ok: false, reason: "IPv4 header length below 20" });
    const badOffset = Uint8Array.from(v4);
    badOffset[20 + 12] = 0x40;
    expect(parseSynPacket(badOffset)).toEqual({ ok: false, reason: "TCP data offset below 20" });
  });

  test("random bytes never throw", () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0;
      return seed >>> 24;
    };
    for (let i = 0; i < 2000; i++) {
      const p = Uint8Array.from({ length: rnd() % 130 }, rnd);
      if (p.byteLength > 0) p[0] = (p[0] ?? 0) % 2 === 0 ? 0x45 : 0x60;
      expect(() => parseSynPacket(p)).not.toThrow();
    }
  });
});
