import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  parseNetstat,
  readTcpMd5Counters,
  tcpMd5Counters,
} from "../../src/agent/md5/tcp-md5-counters.ts";
import { makeTempDir } from "../support/tempdir.ts";

// Shortened from a real /proc/net/netstat (Linux 6.x): the column order varies by version.
const NETSTAT = [
  "TcpExt: SyncookiesSent SyncookiesRecv TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted",
  "TcpExt: 0 0 3 17 5 0",
  "IpExt: InNoRoutes InTruncatedPkts InMcastPkts",
  "IpExt: 0 0 12",
  "MPTcpExt: MPCapableSYNRX MD5SigFallback",
  "MPTcpExt: 0 0",
  "",
].join("\n");

describe("TCP-MD5 kernel counters", () => {
  test("parseNetstat pairs name and value lines by prefix", () => {
    const t = parseNetstat(NETSTAT);
    expect(Object.keys(t)).toEqual(["TcpExt", "IpExt", "MPTcpExt"]);
    expect(t.IpExt).toEqual({ InNoRoutes: 0, InTruncatedPkts: 0, InMcastPkts: 12 });
  });

  test("the three counters come from TcpExt, whatever their column", () => {
    expect(tcpMd5Counters(NETSTAT)).toEqual({
      TCPMD5NotFound: 3,
      TCPMD5Unexpected: 17,
      TCPMD5Failure: 5,
    });
  });

  test("a kernel without them (or garbage) gives zeros; mismatched pairs are skipped", () => {
    expect(tcpMd5Counters("TcpExt: A B\nTcpExt: 1 2\n")).toEqual({
      TCPMD5NotFound: 0,
      TCPMD5Unexpected: 0,
      TCPMD5Failure: 0,
    });
    expect(parseNetstat("TcpExt: A B\nTcpExt: 1\nIpExt: C\nIpExt: 4\n")).toEqual({
      IpExt: { C: 4 },
    });
    expect(parseNetstat("TcpExt: A\nTcpExt: x\n")).toEqual({});
    expect(parseNetstat("")).toEqual({});
  });

  test("the reader reads a file, and says undefined (not zeros) when it cannot", () => {
    const dir = makeTempDir("netstat");
    const path = join(dir, "netstat");
    writeFileSync(path, NETSTAT);
    expect(readTcpMd5Counters(path)?.TCPMD5Unexpected).toBe(17);
    expect(readTcpMd5Counters(join(dir, "missing"))).toBeUndefined();
  });

  test.skipIf(process.platform !== "linux")(
    "this machine's /proc/net/netstat has the counters",
    () => {
      const c = readTcpMd5Counters();
      expect(c).toBeDefined();
      expect(Object.values(c ?? {}).every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    },
  );
});
