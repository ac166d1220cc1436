import { describe, expect, test } from "bun:test";
import { BPF, encodeBpf, PACKET_HOST, SKF_AD_PKTTYPE_K } from "../../native/bpf.ts";
import * as K from "../../native/kernel-structs.ts";
import { buildFixture, gccAvailable, gccSkipNote } from "../support/c-program.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const text = (s: string) => new TextEncoder().encode(s);

describe(`kernel structs match the system headers (C probe compiled with gcc)${gccSkipNote}`, () => {
  const probe = (): Record<string, number | string> => {
    const r = Bun.spawnSync([buildFixture("kernel-structs-probe")], { stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    return JSON.parse(r.stdout.toString()) as Record<string, number | string>;
  };
  const c = gccAvailable ? probe() : {};

  test.skipIf(!gccAvailable)("struct tcp_md5sig: size and field offsets", () => {
    expect(c.sizeof_tcp_md5sig).toBe(K.TCP_MD5SIG_SIZE);
    expect(c.sizeof_sockaddr_storage).toBe(K.SOCKADDR_STORAGE_SIZE);
    expect(c.offsetof_tcpm_addr).toBe(0);
    expect(c.offsetof_tcpm_flags).toBe(128);
    expect(c.offsetof_tcpm_prefixlen).toBe(129);
    expect(c.offsetof_tcpm_keylen).toBe(130);
    expect(c.offsetof_tcpm_ifindex).toBe(132);
    expect(c.offsetof_tcpm_key).toBe(136);
    expect(c.TCP_MD5SIG_MAXKEYLEN).toBe(K.TCP_MD5SIG_MAXKEYLEN);
  });

  test.skipIf(!gccAvailable)("constants", () => {
    const pairs: [string, number][] = [
      ["TCP_MD5SIG", K.TCP_MD5SIG],
      ["TCP_MD5SIG_EXT", K.TCP_MD5SIG_EXT],
      ["TCP_MD5SIG_FLAG_PREFIX", K.TCP_MD5SIG_FLAG_PREFIX],
      ["TCP_MD5SIG_FLAG_IFINDEX", K.TCP_MD5SIG_FLAG_IFINDEX],
      ["AF_INET", K.AF_INET],
      ["AF_INET6", K.AF_INET6],
      ["AF_PACKET", K.AF_PACKET],
      ["SOCK_DGRAM", K.SOCK_DGRAM],
      ["SOCK_NONBLOCK", K.SOCK_NONBLOCK],
      ["SOCK_CLOEXEC", K.SOCK_CLOEXEC],
      ["SOL_SOCKET", K.SOL_SOCKET],
      ["SOL_PACKET", K.SOL_PACKET],
      ["SO_RCVBUF", K.SO_RCVBUF],
      ["SO_RCVBUFFORCE", K.SO_RCVBUFFORCE],
      ["SO_ATTACH_FILTER", K.SO_ATTACH_FILTER],
      ["PACKET_STATISTICS", K.PACKET_STATISTICS],
      ["ETH_P_ALL", K.ETH_P_ALL],
      ["MSG_DONTWAIT", K.MSG_DONTWAIT],
      ["F_GETFL", K.F_GETFL],
      ["F_SETFL", K.F_SETFL],
      ["F_SETOWN", K.F_SETOWN],
      ["O_NONBLOCK", K.O_NONBLOCK],
      ["O_ASYNC", K.O_ASYNC],
      ["SKF_AD_PKTTYPE_K", SKF_AD_PKTTYPE_K],
      ["PACKET_HOST", PACKET_HOST],
      ["BPF_LD_B_ABS", BPF.LD | BPF.B | BPF.ABS],
      ["BPF_LD_H_ABS", BPF.LD | BPF.H | BPF.ABS],
      ["BPF_LD_B_IND", BPF.LD | BPF.B | BPF.IND],
      ["BPF_LD_H_IND", BPF.LD | BPF.H | BPF.IND],
      ["BPF_LDX_B_MSH", BPF.LDX | BPF.B | BPF.MSH],
      ["BPF_ALU_AND_K", BPF.ALU | BPF.AND | BPF.K],
      ["BPF_JMP_JEQ_K", BPF.JMP | BPF.JEQ | BPF.K],
      ["BPF_JMP_JSET_K", BPF.JMP | BPF.JSET | BPF.K],
      ["BPF_JMP_JA", BPF.JMP | BPF.JA],
      ["BPF_RET_K", BPF.RET | BPF.K],
    ];
    for (const [name, ours] of pairs)
      expect({ name, value: c[name] }).toEqual({ name, value: ours });
  });

  test.skipIf(!gccAvailable)("packed TCP_MD5SIG keys: IPv4, IPv6, delete", () => {
    const v4 = K.packTcpMd5sig({ peer: "10.255.1.1", key: text("secret") });
    expect(v4.optname).toBe(K.TCP_MD5SIG);
    expect(hex(v4.bytes)).toBe(String(c.md5_v4));
    const v6 = K.packTcpMd5sig({ peer: "fd00:255:1::1", key: text("s3cr3t-v6") });
    expect(v6.optname).toBe(K.TCP_MD5SIG);
    expect(hex(v6.bytes)).toBe(String(c.md5_v6));
    const del = K.packTcpMd5sig({ peer: "10.255.1.1", key: new Uint8Array(0) });
    expect(hex(del.bytes)).toBe(String(c.md5_delete_v4));
  });

  test.skipIf(!gccAvailable)(
    "TCP_MD5SIG_EXT (prefix + ifindex, 80-byte key) and the v4-mapped form",
    () => {
      const ext = K.packTcpMd5sig({
        peer: "10.255.0.0",
        prefixLength: 16,
        ifindex: 7,
        key: new Uint8Array(80).fill(0x6b),
      });
      expect(ext.optname).toBe(K.TCP_MD5SIG_EXT);
      expect(hex(ext.bytes)).toBe(String(c.md5_ext));
      const mapped = K.packTcpMd5sig({ peer: "192.0.2.7", key: text("m"), v4Mapped: true });
      expect(mapped.optname).toBe(K.TCP_MD5SIG);
      expect(hex(mapped.bytes)).toBe(String(c.md5_v4_mapped));
    },
  );

  test.skipIf(!gccAvailable)("sockaddr_ll, sock_fprog, sock_filter, tpacket_stats", () => {
    expect(hex(K.packSockaddrLl(K.ETH_P_ALL, 3))).toBe(String(c.sockaddr_ll));
    expect(c.sizeof_sockaddr_ll).toBe(K.SOCKADDR_LL_SIZE);
    expect(c.sizeof_sock_fprog).toBe(K.SOCK_FPROG_SIZE);
    expect(c.offsetof_sock_fprog_filter).toBe(8);
    expect(c.sizeof_sock_filter).toBe(8);
    expect(c.sizeof_tpacket_stats).toBe(8);
    const jeq = encodeBpf([{ code: BPF.JMP | BPF.JEQ | BPF.K, jt: 3, jf: 9, k: 179 }]);
    expect(hex(jeq)).toBe(String(c.sock_filter_jeq179));
  });

  // Debian 12's headers (Linux 6.1) predate TCP-AO; newer ones are checked too.
  test.skipIf(!gccAvailable || c.sizeof_tcp_ao_add === undefined)(
    "struct tcp_ao_add / tcp_ao_del (headers of Linux 6.7+)",
    () => {
      expect(c.TCP_AO_ADD_KEY).toBe(K.TCP_AO_ADD_KEY);
      expect(c.TCP_AO_DEL_KEY).toBe(K.TCP_AO_DEL_KEY);
      expect(c.sizeof_tcp_ao_add).toBe(K.TCP_AO_ADD_SIZE);
      expect(c.offsetof_ao_add_alg_name).toBe(128);
      expect(c.offsetof_ao_add_ifindex).toBe(192);
      expect(c.offsetof_ao_add_prefix).toBe(202);
      expect(c.offsetof_ao_add_sndid).toBe(203);
      expect(c.offsetof_ao_add_rcvid).toBe(204);
      expect(c.offsetof_ao_add_maclen).toBe(205);
      expect(c.offsetof_ao_add_keylen).toBe(207);
      expect(c.offsetof_ao_add_key).toBe(208);
      expect(c.sizeof_tcp_ao_del).toBe(K.TCP_AO_DEL_SIZE);
      expect(c.offsetof_ao_del_prefix).toBe(138);
      expect(c.offsetof_ao_del_sndid).toBe(139);
      expect(c.offsetof_ao_del_rcvid).toBe(140);
    },
  );
});

describe("kernel struct packers (pure)", () => {
  test("addresses: IPv4, IPv6 (compressed, embedded IPv4), v4-mapped", () => {
    expect([...K.ipv4Bytes("192.0.2.33")]).toEqual([192, 0, 2, 33]);
    expect(hex(K.ipv6Bytes("2001:db8::1"))).toBe("20010db8000000000000000000000001");
    expect(hex(K.ipv6Bytes("::"))).toBe("00000000000000000000000000000000");
    expect(hex(K.ipv6Bytes("fe80::1%eth0"))).toBe("fe800000000000000000000000000001");
    expect(hex(K.ipv6Bytes("::ffff:10.0.0.1"))).toBe("00000000000000000000ffff0a000001");
    expect(hex(K.ipv6Bytes("1:2:3:4:5:6:7:8"))).toBe("00010002000300040005000600070008");
    expect(hex(K.v4MappedBytes("10.0.0.1"))).toBe("00000000000000000000ffff0a000001");
    expect(() => K.ipv4Bytes("10.0.0.256")).toThrow(RangeError);
    expect(() => K.ipv6Bytes("10.0.0.1")).toThrow(RangeError);
  });

  test("sockaddr_in carries the port in network order; sockaddr_in6 the scope id", () => {
    const v4 = K.packSockaddrStorage("10.0.0.1", 179);
    expect(hex(v4.subarray(0, 8))).toBe("020000b30a000001");
    const v6 = K.packSockaddrStorage("fe80::1", 179, { scopeId: 5 });
    expect(hex(v6.subarray(0, 28))).toBe(
      "0a0000b300000000fe80000000000000000000000000000105000000",
    );
  });

  test("a key longer than 80 bytes, a bad prefix length or a non-address is refused", () => {
    expect(() => K.packTcpMd5sig({ peer: "10.0.0.1", key: new Uint8Array(81) })).toThrow(
      /at most 80/,
    );
    expect(() => K.packTcpMd5sig({ peer: "10.0.0.1", key: text("k"), prefixLength: 33 })).toThrow(
      RangeError,
    );
    expect(() => K.packTcpMd5sig({ peer: "router.example", key: text("k") })).toThrow(RangeError);
  });

  test("a v4-mapped prefix is counted in IPv6 bits", () => {
    const { bytes } = K.packTcpMd5sig({
      peer: "10.1.0.0",
      key: text("k"),
      prefixLength: 16,
      v4Mapped: true,
    });
    expect(bytes[128]).toBe(K.TCP_MD5SIG_FLAG_PREFIX);
    expect(bytes[129]).toBe(112);
  });

  test("struct tcp_ao_add: golden bytes (no set_current/set_rnext on a listening socket)", () => {
    const b = K.packTcpAoAdd({
      peer: "10.255.1.1",
      key: text("ao-key"),
      algorithm: "hmac(sha1)",
      sendId: 7,
      recvId: 9,
      macLength: 12,
    });
    expect(b.byteLength).toBe(288);
    expect(hex(b.subarray(0, 8))).toBe("020000000aff0101");
    expect(new TextDecoder().decode(b.subarray(128, 138))).toBe("hmac(sha1)");
    expect(b[138]).toBe(0);
    expect(hex(b.subarray(192, 208))).toBe("000000000000000000002007090c0006");
    expect(new TextDecoder().decode(b.subarray(208, 214))).toBe("ao-key");
    expect(b.subarray(214).every((v) => v === 0)).toBe(true);
  });

  test("struct tcp_ao_del: golden bytes", () => {
    const b = K.packTcpAoDel({ peer: "fd00::1", sendId: 1, recvId: 2 });
    expect(b.byteLength).toBe(144);
    expect(hex(b.subarray(0, 2))).toBe("0a00");
    expect(hex(b.subarray(128, 144))).toBe("00000000000000000000800102000000");
  });

  test("sock_fprog holds the count and the address; tpacket_stats parses", () => {
    const f = K.packSockFprog(26, 0x7f00_1234_5678);
    expect(hex(f)).toBe("1a0000000000000078563412007f0000");
    expect(K.parseTpacketStats(Uint8Array.from([5, 0, 0, 0, 2, 0, 0, 0]))).toEqual({
      packets: 5,
      drops: 2,
    });
    expect(K.parseInt32(K.packInt(4_194_304))).toBe(4_194_304);
  });
});
