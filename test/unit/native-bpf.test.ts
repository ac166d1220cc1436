import { describe, expect, test } from "bun:test";
import { BPF, BpfAssembler, encodeBpf, SYN_SNAP_LENGTH, synFilter } from "../../native/bpf.ts";
import { runBpf } from "../support/bpf-interpreter.ts";
import { ACK, LINUX_SYN_OPTIONS, md5Option, SYN, tcpPacket } from "../support/tcp-packets.ts";

const HOST = { pktType: 0 };
const OUTGOING = { pktType: 4 };

describe("SYN filter program (classic BPF)", () => {
  test("its bytes for port 179 are pinned", () => {
    // Reviewed by hand: pkttype == HOST; version 4 -> v4, 6 -> v6; IPv4: proto TCP, no
    // fragment offset, X = IHL*4, flags & (SYN|ACK) == SYN, dport 179; IPv6: next header TCP,
    // same checks at 40; ret 0 (drop) / ret 128 (accept).
    expect(Buffer.from(encodeBpf(synFilter([179]))).toString("hex")).toBe(
      "3000000004f0ffff1500001600000000300000000000000054000000f00000001500010040000000" +
        "15000b126000000030000000090000001500001006000000280000000600000045000e00ff1f0000" +
        "b100000000000000500000000d00000054000000120000001500000a020000004800000002000000" +
        "15000900b3000000050000000700000030000000060000001500000506000000300000003500000" +
        "054000000120000001500000202000000280000002a00000015000100b300000006000000000000" +
        "000600000080000000",
    );
  });

  test("accepts a SYN to a listen port, IPv4 and IPv6, signed or not, cut to 128 bytes", () => {
    const f = synFilter([179]);
    for (const [src, dst] of [
      ["10.255.1.1", "10.255.1.2"],
      ["fd00:255:1::1", "fd00:255:1::2"],
    ] as const) {
      for (const options of [[], LINUX_SYN_OPTIONS, [...md5Option(), ...LINUX_SYN_OPTIONS]]) {
        expect(runBpf(f, tcpPacket({ src, dst, options }), HOST)).toBe(SYN_SNAP_LENGTH);
      }
    }
  });

  test("IPv4 options move the TCP header: still found", () => {
    const p = tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", ipOptions: 8, dstPort: 179 });
    expect(runBpf(synFilter([179]), p, HOST)).toBe(SYN_SNAP_LENGTH);
    const other = tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", ipOptions: 8, dstPort: 180 });
    expect(runBpf(synFilter([179]), other, HOST)).toBe(0);
  });

  test("drops SYN-ACK, ACK, other ports, outgoing packets, UDP, fragments, extension headers", () => {
    const f = synFilter([179, 1179]);
    const v4 = { src: "10.0.0.1", dst: "10.0.0.2" };
    const v6 = { src: "fd00::1", dst: "fd00::2" };
    expect(runBpf(f, tcpPacket({ ...v4, flags: SYN | ACK }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v6, flags: SYN | ACK }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v4, flags: ACK }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v4, dstPort: 180 }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v6, dstPort: 22 }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v4 }), OUTGOING)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v6 }), OUTGOING)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v4, protocol: 17 }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v4, fragmentOffset: 100 }), HOST)).toBe(0);
    expect(runBpf(f, tcpPacket({ ...v6, nextHeader: 0 }), HOST)).toBe(0);
    // both listed ports pass
    expect(runBpf(f, tcpPacket({ ...v4, dstPort: 1179 }), HOST)).toBe(SYN_SNAP_LENGTH);
    expect(runBpf(f, tcpPacket({ ...v6, dstPort: 1179 }), HOST)).toBe(SYN_SNAP_LENGTH);
  });

  test("packets too short for the fields it reads are dropped; other IP versions too", () => {
    // It reads up to the TCP flags (byte 13 of the TCP header); the parser checks the rest.
    const f = synFilter([179]);
    const full = tcpPacket({ src: "10.0.0.1", dst: "10.0.0.2" });
    for (let n = 0; n < 34; n++) expect(runBpf(f, full.subarray(0, n), HOST)).toBe(0);
    expect(runBpf(f, full.subarray(0, 34), HOST)).toBe(SYN_SNAP_LENGTH);
    const v6 = tcpPacket({ src: "fd00::1", dst: "fd00::2" });
    for (let n = 0; n < 54; n++) expect(runBpf(f, v6.subarray(0, n), HOST)).toBe(0);
    const v5 = Uint8Array.from(full);
    v5[0] = 0x55;
    expect(runBpf(f, v5, HOST)).toBe(0);
  });

  test("ports are deduplicated and validated", () => {
    expect(synFilter([179, 179])).toEqual(synFilter([179]));
    expect(() => synFilter([])).toThrow(RangeError);
    expect(() => synFilter([0])).toThrow(RangeError);
    expect(() => synFilter([70_000])).toThrow(RangeError);
    expect(() => synFilter(Array.from({ length: 65 }, (_, i) => 1000 + i))).toThrow(RangeError);
    const many = synFilter(Array.from({ length: 64 }, (_, i) => 1000 + i));
    const p = tcpPacket({ src: "fd00::1", dst: "fd00::2", dstPort: 1063 });
    expect(runBpf(many, p, HOST)).toBe(SYN_SNAP_LENGTH);
  });

  test("the assembler resolves forward labels and refuses bad ones", () => {
    const prog = new BpfAssembler()
      .jump(BPF.JMP | BPF.JEQ | BPF.K, 1, "yes", 0)
      .insn(BPF.RET | BPF.K, 0)
      .label("yes")
      .insn(BPF.RET | BPF.K, 1)
      .assemble();
    expect(prog[0]).toEqual({ code: 0x15, jt: 1, jf: 0, k: 1 });
    expect(() => new BpfAssembler().jump(0x15, 0, "nowhere", 0).assemble()).toThrow(/no label/);
    expect(() =>
      new BpfAssembler().label("back").insn(0x06, 0).jump(0x15, 0, "back", 0).assemble(),
    ).toThrow(/out of reach/);
    expect(() => new BpfAssembler().label("a").label("a").assemble()).toThrow(/twice/);
  });
});
