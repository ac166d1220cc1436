import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseIpv6 } from "../../src/bgp/ip-address.ts";
import { decodeUpdate } from "../../src/bgp/update.ts";
import { encodeUpdateBody } from "../../src/bgp/update-encoder.ts";
import { AdjRibIn } from "../../src/collector/adj-rib-in.ts";
import { filesToRotate, MrtDumper, mrtFileName } from "../../src/collector/mrt-dumper.ts";
import { RibDirectory } from "../../src/collector/rib-directory.ts";
import { parseGatewayFile } from "../../src/config/gateway-file.ts";
import { silentLogger } from "../../src/core/logger.ts";
import {
  encodePeerIndexTable,
  encodeRibRecord,
  mrtAttributes,
} from "../../src/mrt/table-dump-v2.ts";
import { hex, toHex } from "../fixtures/bgp/hex.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeTempDir(d);
});

describe("MRT TABLE_DUMP_V2 encoders (golden bytes, RFC 6396 §4.3)", () => {
  test("PEER_INDEX_TABLE", () => {
    const bytes = encodePeerIndexTable(0x5f5e1000, "192.0.2.1", "r1", [
      { routerId: "10.0.0.1", address: "192.0.2.2", asn: 65001 },
    ]);
    expect(toHex(bytes)).toBe(
      toHex(
        hex(`5f5e1000 000d 0001 00000017
           c0000201 0002 7231 0001
           02 0a000001 c0000202 0000fde9`),
      ),
    );
  });

  test("PEER_INDEX_TABLE with an IPv6 peer sets the address-family bit", () => {
    const bytes = encodePeerIndexTable(1, "192.0.2.1", "", [
      { routerId: "10.0.0.1", address: "2001:db8::2", asn: 4200000000 },
    ]);
    expect(toHex(bytes.subarray(12))).toBe(
      toHex(
        hex(`c0000201 0000 0001
           03 0a000001 20010db8000000000000000000000002 fa56ea00`),
      ),
    );
  });

  test("RIB_IPV4_UNICAST record with one entry", () => {
    const bytes = encodeRibRecord(0x5f5e1000, false, 7, 24, Uint8Array.of(198, 51, 100, 0), [
      { peerIndex: 0, originatedTime: 0x5f5e0000, attributes: Uint8Array.of(0x40, 1, 1, 0) },
    ]);
    expect(toHex(bytes)).toBe(
      toHex(
        hex(`5f5e1000 000d 0002 00000016
           00000007 18 c63364 0001
           0000 5f5e0000 0004 40010100`),
      ),
    );
  });

  test("RIB_IPV6_UNICAST subtype; IPv6 attributes get an MP_REACH_NLRI with only the next hop", () => {
    const bytes = encodeRibRecord(0, true, 0, 32, parseIpv6("2001:db8::"), []);
    expect(toHex(bytes)).toBe(toHex(hex("00000000 000d 0004 0000000b 00000000 20 20010db8 0000")));
    const attrs = mrtAttributes(Uint8Array.of(0x40, 1, 1, 0), parseIpv6("2001:db8::1"));
    expect(toHex(attrs)).toBe(toHex(hex("40010100 800e11 10 20010db8000000000000000000000001")));
  });
});

describe("MRT dumps to a directory", () => {
  test("file names sort by time; rotation keeps the newest N of each device only", () => {
    expect(mrtFileName("edge r1/x", Date.UTC(2026, 11, 6, 5, 4, 3))).toBe(
      "edge_r1_x.20261206T050403Z.mrt",
    );
    const names = [
      "r1.20261206T050000Z.mrt",
      "r1.20261206T051000Z.mrt",
      "r1.20261206T052000Z.mrt",
      "r10.20261206T050000Z.mrt",
      "r1.20261206T053000Z.mrt.tmp",
      "notes.txt",
    ];
    expect(filesToRotate(names, "r1", 2)).toEqual(["r1.20261206T050000Z.mrt"]);
    expect(filesToRotate(names, "r10", 1)).toEqual([]);
  });

  test("every interval one file per device, rotated; the file holds the RIB", async () => {
    const dir = makeTempDir("mrt");
    dirs.push(dir);
    writeFileSync(join(dir, "unrelated.txt"), "keep me");
    const rib = new AdjRibIn();
    rib.apply(
      decodeUpdate(
        encodeUpdateBody({
          origin: 0,
          asPath: [65001],
          nextHop: "192.0.2.2",
          nlri: ["198.51.100.0/24", "203.0.113.0/24"],
        }),
        { fourOctetAs: true },
      ),
    );
    const ribs = new RibDirectory();
    ribs.attach({
      device: "r1",
      address: "192.0.2.2",
      rib,
      peer: () => ({ asn: 65001, routerId: "10.0.0.1", establishedAt: 1 }),
    });
    const clock = new ManualClock(Date.UTC(2026, 11, 6, 5, 0, 0));
    const dumper = new MrtDumper(
      { dir, intervalSeconds: 60, keep: 2 },
      ribs,
      "192.0.2.1",
      clock,
      silentLogger,
    );
    dumper.start();
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      await dumper.idle();
    }
    dumper.stop();
    clock.advance(600_000);
    await dumper.idle();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(["r1.20261206T050200Z.mrt", "r1.20261206T050300Z.mrt", "unrelated.txt"]);
    const bytes = readFileSync(join(dir, "r1.20261206T050300Z.mrt"));
    // PEER_INDEX_TABLE (12 + 24 octets: view name "r1"), then two RIB_IPV4_UNICAST records.
    expect(bytes.readUInt16BE(6)).toBe(1);
    const second = 12 + bytes.readUInt32BE(8);
    expect(bytes.readUInt16BE(second + 6)).toBe(2);
    expect(existsSync(join(dir, "r1.20261206T050300Z.mrt.tmp"))).toBe(false);
  });
});

describe("a dump whose session ends meanwhile", () => {
  test("is abandoned: no file, no temporary left", async () => {
    const dir = makeTempDir("mrt");
    dirs.push(dir);
    const rib = new AdjRibIn();
    const nlri = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    for (let asn = 1; asn <= 40; asn++) {
      rib.apply(
        decodeUpdate(
          encodeUpdateBody({
            origin: 0,
            asPath: [65001, asn],
            nextHop: "192.0.2.2",
            nlri: nlri.map((p) => p.replace(/^10\./, `${10 + asn}.`)),
          }),
          {
            fourOctetAs: true,
          },
        ),
      );
    }
    expect(rib.counts.ipv4).toBe(40_000); // about 2 MB of MRT: more than one chunk
    const ribs = new RibDirectory();
    ribs.attach({ device: "r1", address: "192.0.2.2", rib, peer: () => undefined });
    const dumper = new MrtDumper(
      { dir, intervalSeconds: 60, keep: 2 },
      ribs,
      "192.0.2.1",
      new ManualClock(),
      silentLogger,
    );
    dumper.start();
    const done = dumper.dumpAll();
    rib.clear();
    expect(await done).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    dumper.stop();
  });
});

describe("[mrt] and [[bmp]] in the gateway TOML", () => {
  const base = `
[[account]]
email = "ops@example.net"
token_sha256 = "${"a".repeat(64)}"
[collector]
asn = 64512
router_id = "192.0.2.1"
`;
  test("parsed with defaults; absent means off", () => {
    const f = parseGatewayFile(
      `${base}[mrt]\ndir = "/var/lib/bgproxy/mrt"\n[[bmp]]\naddress = "192.0.2.9:1790"\n[[bmp]]\naddress = "[2001:db8::9]:5000"\nbuffer_bytes = 1048576\n`,
      "gw.toml",
    );
    expect(f.mrt).toEqual({ dir: "/var/lib/bgproxy/mrt", intervalSeconds: 300, keep: 24 });
    expect(f.bmp.map((b) => [b.address.host, b.address.port, b.bufferBytes])).toEqual([
      ["192.0.2.9", 1790, 16 << 20],
      ["2001:db8::9", 5000, 1048576],
    ]);
    const none = parseGatewayFile(base, "gw.toml");
    expect(none.mrt).toBeUndefined();
    expect(none.bmp).toEqual([]);
  });

  test("bad values name the key and line", () => {
    expect(() => parseGatewayFile(`${base}[mrt]\ndir = "x"\ninterval = 1\n`, "gw.toml")).toThrow(
      /gw\.toml:10: mrt\.interval must be an integer from 10 to 86400, got 1/,
    );
    expect(() => parseGatewayFile(`${base}[[bmp]]\nport = 1\n`, "gw.toml")).toThrow(
      /bmp\[1\]\.port is not a known key/,
    );
  });
});
