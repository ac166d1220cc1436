/**
 * The pure parts of scripts/packaging: version mapping per package format, the tar writer
 * (read back by GNU tar and by the test reader), the ELF reader on a tiny hand-made file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readElf } from "../../scripts/packaging/elf.ts";
import {
  type GitFacts,
  parseTag,
  releaseVersions,
} from "../../scripts/packaging/release-version.ts";
import { parentDirectories, paxRecord, tarArchive } from "../../scripts/packaging/tar-writer.ts";
import { run } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { readTar } from "./support/tar-reader.ts";

const base: GitFacts = {
  describe: "c49e6e9",
  distance: 12,
  shortHash: "c49e6e9",
  fullHash: "c49e6e9".padEnd(40, "0"),
  dirty: false,
  commitTime: 1_800_000_000,
};

describe("release versions", () => {
  test("no tag yet: pre-releases of package.json's version", () => {
    const v = releaseVersions(base, "0.1.0");
    expect(v).toEqual({
      binary: "c49e6e9",
      deb: "0.1.0~git12.c49e6e9",
      rpm: "0.1.0~git12.c49e6e9",
      apk: "0.1.0_pre12-r0",
      commit: base.fullHash,
      sourceDateEpoch: 1_800_000_000,
    });
  });

  test("on a tag, after a tag, dirty, release candidates", () => {
    expect(
      releaseVersions({ ...base, describe: "v1.2.0", tag: "v1.2.0", distance: 0 }, "0.1.0"),
    ).toMatchObject({
      binary: "v1.2.0",
      deb: "1.2.0",
      rpm: "1.2.0",
      apk: "1.2.0-r0",
    });
    expect(
      releaseVersions(
        {
          ...base,
          describe: "v1.2.0-3-gabc1234-dirty",
          tag: "v1.2.0",
          distance: 3,
          shortHash: "abc1234",
          dirty: true,
        },
        "0.1.0",
      ),
    ).toMatchObject({
      binary: "v1.2.0-3-gabc1234-dirty",
      deb: "1.2.0+git3.abc1234.dirty",
      rpm: "1.2.0+git3.abc1234.dirty",
      apk: "1.2.0_p3-r0",
    });
    expect(
      releaseVersions(
        { ...base, describe: "v1.3.0-rc.1", tag: "v1.3.0-rc.1", distance: 0 },
        "0.1.0",
      ),
    ).toMatchObject({
      deb: "1.3.0~rc1",
      apk: "1.3.0_rc1-r0",
    });
    expect(() => parseTag("nightly")).toThrow(/not a release version/);
  });

  test.skipIf(Bun.which("dpkg") === null)(
    "Debian orders them as releases should sort",
    async () => {
      const order = [
        "0.1.0~git5.aaaaaaa",
        "0.1.0~git12.bbbbbbb",
        "0.1.0",
        "0.1.0+git3.ccccccc",
        "0.2.0~rc1",
        "0.2.0",
      ];
      for (let i = 1; i < order.length; i++) {
        const r = await run(
          ["dpkg", "--compare-versions", order[i - 1] ?? "", "lt", order[i] ?? ""],
          { check: false },
        );
        expect({ a: order[i - 1], b: order[i], lt: r.code === 0 }).toEqual({
          a: order[i - 1],
          b: order[i],
          lt: true,
        });
      }
    },
  );
});

describe("tar writer", () => {
  let dir = "";
  beforeAll(() => {
    dir = makeTempDir("tar");
  });
  afterAll(() => removeTempDir(dir));

  test("pax records count their own length", () => {
    for (const value of [
      "",
      "x",
      "a".repeat(85),
      "a".repeat(86),
      "a".repeat(992),
      "ü".repeat(50),
    ]) {
      const record = paxRecord("k", value);
      const length = Number(record.slice(0, record.indexOf(" ")));
      expect(new TextEncoder().encode(record).length).toBe(length);
      expect(record.endsWith(`k=${value}\n`)).toBe(true);
    }
  });

  test("GNU tar reads what it writes: modes, owners, times, long paths, symlinks", async () => {
    const longPath = `./${"d".repeat(90)}/${"e".repeat(60)}/file.txt`;
    const entries = [
      { type: "dir" as const, path: ".", mode: 0o755 },
      ...parentDirectories(["./usr/bin/tool", longPath]),
      {
        type: "file" as const,
        path: "./usr/bin/tool",
        mode: 0o755,
        data: new TextEncoder().encode("#!/bin/sh\n"),
      },
      {
        type: "file" as const,
        path: "./etc/secret",
        mode: 0o600,
        data: new Uint8Array(1000).fill(7),
      },
      { type: "file" as const, path: longPath, mode: 0o644, data: new Uint8Array(0) },
      { type: "symlink" as const, path: "./usr/bin/alias", target: "tool" },
    ];
    const archive = tarArchive(entries, { mtime: 1_700_000_000 });
    expect(archive.length % 512).toBe(0);
    writeFileSync(join(dir, "a.tar"), archive);
    const listing = await run(
      ["tar", "--numeric-owner", "--full-time", "-tvf", join(dir, "a.tar")],
      {
        env: { TZ: "UTC" },
      },
    );
    const lines = listing.stdout.trim().split("\n");
    expect(lines).toContain("-rwxr-xr-x 0/0              10 2023-11-14 22:13:20 ./usr/bin/tool");
    expect(lines).toContain("-rw------- 0/0            1000 2023-11-14 22:13:20 ./etc/secret");
    expect(lines).toContain(
      "lrwxrwxrwx 0/0               0 2023-11-14 22:13:20 ./usr/bin/alias -> tool",
    );
    expect(lines.some((l) => l.endsWith(longPath))).toBe(true);
    await run(["tar", "-xf", join(dir, "a.tar"), "-C", dir]);
    expect(readFileSync(join(dir, "etc/secret"))).toEqual(
      Buffer.from(new Uint8Array(1000).fill(7)),
    );
    // Same input, same bytes.
    expect(tarArchive(entries, { mtime: 1_700_000_000 })).toEqual(archive);
  });

  test("a segment without end blocks continues into the next archive; pax records survive", async () => {
    const first = tarArchive(
      [
        {
          type: "file",
          path: ".PKGINFO",
          mode: 0o644,
          data: new TextEncoder().encode("pkgname = x\n"),
        },
      ],
      { mtime: 0, endOfArchive: false },
    );
    const second = tarArchive(
      [
        {
          type: "file",
          path: "usr/x",
          mode: 0o755,
          data: new Uint8Array([1, 2, 3]),
          pax: { "APK-TOOLS.checksum.SHA1": "abc" },
        },
      ],
      { mtime: 0 },
    );
    const both = new Uint8Array([...first, ...second]);
    writeFileSync(join(dir, "b.tar"), both);
    const listing = await run(["tar", "--warning=no-unknown-keyword", "-tf", join(dir, "b.tar")]);
    expect(listing.stdout.trim().split("\n")).toEqual([".PKGINFO", "usr/x"]);
    const read = readTar(both);
    expect(read.ended).toBe(true);
    expect(read.members.map((m) => m.name)).toEqual([".PKGINFO", "usr/x"]);
    expect(read.members[1]?.pax.get("APK-TOOLS.checksum.SHA1")).toBe("abc");
    expect(readTar(first).ended).toBe(false);
  });
});

describe("ELF reader", () => {
  test("reads this machine's own tools and refuses what is not ELF", () => {
    const sh = readElf(readFileSync("/bin/sh"));
    expect(sh.needed).toContain("libc.so.6");
    expect(sh.interpreter).toMatch(/^\/lib.*\/ld-linux/);
    expect(() => readElf(new TextEncoder().encode("#!/bin/sh\n".padEnd(64)))).toThrow(/not an ELF/);
  });
});
