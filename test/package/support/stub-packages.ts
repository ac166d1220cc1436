/**
 * Stub packages for the runtime libraries the musl binary links (the device has the real
 * ones: OpenWrt's libc, libgcc1 and libstdcpp6; Alpine's musl, libgcc and libstdc++), each
 * in a feed of its own signed with the test's keys; and small "newer version" builds of
 * bgproxy for the upgrade proofs, written by the same code as the real packages.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type Apk3Info,
  apk3Data,
  apk3Index,
  apk3Package,
} from "../../../scripts/packaging/apk3.ts";
import type { BuildInfo } from "../../../scripts/packaging/build-info.ts";
import type { RepositoryKeys } from "../../../scripts/packaging/device-repositories.ts";
import { alpineIndex, type OpkgFeedEntry, opkgFeed } from "../../../scripts/packaging/feeds.ts";
import { gzip } from "../../../scripts/packaging/payload.ts";
import { tarArchive } from "../../../scripts/packaging/tar-writer.ts";

export function writeTree(dir: string, files: Map<string, Uint8Array>): void {
  for (const [name, bytes] of files) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
}

const text = (s: string) => new TextEncoder().encode(s);
const MTIME = 1_700_000_000;

/** An opkg feed of empty packages named `names` for `arch`, signed with `keys.usign`. */
export function opkgStubFeed(names: readonly string[], arch: string, keys: RepositoryKeys) {
  const entries: OpkgFeedEntry[] = names.map((name) => {
    const control = `Package: ${name}\nVersion: 1.0-1\nArchitecture: ${arch}\nDescription: test stub\n`;
    const controlTar = tarArchive(
      [
        { type: "dir", path: ".", mode: 0o755 },
        { type: "file", path: "./control", mode: 0o644, data: text(control) },
      ],
      { mtime: MTIME },
    );
    const dataTar = tarArchive([{ type: "dir", path: ".", mode: 0o755 }], { mtime: MTIME });
    const bytes = gzip(
      tarArchive(
        [
          { type: "file", path: "./debian-binary", mode: 0o644, data: text("2.0\n") },
          { type: "file", path: "./data.tar.gz", mode: 0o644, data: gzip(dataTar) },
          { type: "file", path: "./control.tar.gz", mode: 0o644, data: gzip(controlTar) },
        ],
        { mtime: MTIME },
      ),
    );
    return { fileName: `${name}_1.0-1_${arch}.ipk`, bytes, control };
  });
  const out = new Map<string, Uint8Array>();
  for (const e of entries) out.set(e.fileName, e.bytes);
  for (const [name, bytes] of Object.entries(opkgFeed(entries, keys.usign))) out.set(name, bytes);
  return out;
}

/** An apk v3 repository (packages.adb) of empty packages, signed with `keys.openwrtApk`. */
export function apk3StubRepository(names: readonly string[], arch: string, keys: RepositoryKeys) {
  const out = new Map<string, Uint8Array>();
  const indexed = names.map((name) => {
    const info: Apk3Info = {
      name,
      version: "1.0-r1",
      arch,
      description: "test stub",
      license: "MIT",
      origin: name,
      maintainer: "tests",
      buildTime: MTIME,
      installedSize: 1,
      depends: [],
    };
    const pkg = apk3Package(info, [], MTIME, apk3Data([]));
    out.set(`${name}-1.0-r1.apk`, pkg.bytes);
    return { info, identity: pkg.identity, fileSize: pkg.bytes.length };
  });
  out.set("packages.adb", apk3Index("stubs", indexed, keys.openwrtApk));
  return out;
}

/** An Alpine (v2) repository of empty packages: <arch>/APKINDEX.tar.gz and the .apk files. */
export function alpineStubRepository(names: readonly string[], arch: string, keys: RepositoryKeys) {
  const out = new Map<string, Uint8Array>();
  const entries = names.map((name) => {
    const data = gzip(tarArchive([], { mtime: MTIME }));
    const sha256 = new Bun.CryptoHasher("sha256").update(data).digest("hex");
    const pkginfo = [
      `pkgname = ${name}`,
      "pkgver = 1.0-r1",
      "pkgdesc = test stub",
      `arch = ${arch}`,
      "size = 1",
      "license = MIT",
      `origin = ${name}`,
      `builddate = ${MTIME}`,
      `datahash = ${sha256}`,
      "",
    ].join("\n");
    const control = gzip(
      tarArchive([{ type: "file", path: ".PKGINFO", mode: 0o644, data: text(pkginfo) }], {
        mtime: MTIME,
        endOfArchive: false,
      }),
    );
    const bytes = Buffer.concat([control, data]);
    out.set(`${arch}/${name}-1.0-r1.apk`, bytes);
    return { pkginfo, control, fileSize: bytes.length };
  });
  out.set(`${arch}/APKINDEX.tar.gz`, alpineIndex(entries, "stubs", keys.alpine, MTIME));
  return out;
}

/** A BuildInfo for a newer version than any development build. */
export function newerBuild(info: BuildInfo): BuildInfo {
  return {
    ...info,
    versions: { ...info.versions, binary: "v9.0.0", deb: "9.0.0", rpm: "9.0.0", apk: "9.0.0-r0" },
  };
}
