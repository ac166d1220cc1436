/**
 * OpenWrt 25.x packages: apk-tools 3 (ADB, "v3") .apk files and their packages.adb index,
 * written with adb.ts. The files are those of the .ipk (ipk.ts: procd init, UCI config,
 * capabilities, /usr/bin/kbgp), plus what OpenWrt's apk packages carry for its scripts and
 * sysupgrade: lib/apk/packages/bgproxy.{list,conffiles,rusers}. Scripts: post-install and
 * pre-deinstall (image/openwrt/apk-*), OpenWrt's default_postinst/default_prerm.
 *
 * Layout of the package (apk-tools' mkpkg): root object "package" = [info, paths,
 * scripts]; paths are the directories sorted by name, each with its files sorted by name;
 * then one DATA block per non-empty regular file, in that order. info.hashes is a 20-byte
 * unique id (SHA-256 of the ADB block, taken with zeros in its place); the index carries
 * the SHA-256 of the ADB block, which apk checks before trusting the package.
 */
import type { KeyObject } from "node:crypto";
import {
  AdbBuilder,
  adbBlock,
  compareBytes,
  compressAdb,
  dataBlock,
  deflatePart,
  fileHeader,
  SCHEMA_INDEX,
  SCHEMA_PACKAGE,
  signatureBlock,
} from "./adb.ts";
import type { BuildInfo } from "./build-info.ts";
import { IPK_DEPENDS, ipkPayload } from "./ipk.ts";
import { DESCRIPTION, imageFile, LICENSE, MAINTAINER, type PayloadFile } from "./payload.ts";

const S_IFLNK = 0o120000;

/** What the package's info holds; the index repeats it with file-size and hashes. */
export interface Apk3Info {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly description: string;
  readonly license: string;
  readonly origin: string;
  readonly maintainer: string;
  readonly buildTime: number;
  readonly installedSize: number;
  readonly depends: readonly string[];
  readonly commit?: string;
}

export function apk3Payload(binary: Uint8Array): PayloadFile[] {
  const files = ipkPayload(binary);
  const text = (s: string) => new TextEncoder().encode(s);
  const conffiles = files.filter((f) => f.conffile).map((f) => `${f.path}\n`);
  const meta = "/lib/apk/packages/bgproxy";
  const listed = [
    ...files.map((f) => f.path),
    `${meta}.conffiles`,
    `${meta}.list`,
    `${meta}.rusers`,
  ];
  return [
    ...files,
    { path: `${meta}.conffiles`, mode: 0o644, data: text(conffiles.join("")) },
    { path: `${meta}.list`, mode: 0o644, data: text(`${listed.sort().join("\n")}\n`) },
    // What OpenWrt writes from a package's USERID (the .ipk's Require-User).
    { path: `${meta}.rusers`, mode: 0o644, data: text("bgproxy:bgproxy\n") },
  ];
}

export function apk3FileName(info: BuildInfo): string {
  return `bgproxy-${info.versions.apk}.apk`;
}

interface Directory {
  readonly name: string;
  readonly files: PayloadFile[];
}

/** Every directory (root "" included, as apk mkpkg writes), sorted, with its files sorted. */
function directories(files: readonly PayloadFile[]): Directory[] {
  const dirs = new Map<string, PayloadFile[]>([["", []]]);
  for (const f of files) {
    const parts = f.path.slice(1).split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) dirs.set(d, []);
    }
    dirs.get(parts.slice(0, -1).join("/"))?.push(f);
  }
  return [...dirs.entries()]
    .sort(([a], [b]) => compareBytes(a, b))
    .map(([name, list]) => ({
      name,
      files: list.sort((a, b) => compareBytes(basename(a.path), basename(b.path))),
    }));
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher("sha256").update(data).digest());
}

/** info fields 1..14 (dependencies sorted by name, as apk sorts them). */
function infoFields(b: AdbBuilder, info: Apk3Info, hashes: number, fileSize?: number): number {
  const acl = [...info.depends].sort(compareBytes).map((d) => b.object([b.blob(d)]));
  const commit =
    info.commit && /^[0-9a-f]{40}$/.test(info.commit) ? b.blob(Buffer.from(info.commit, "hex")) : 0;
  return b.object([
    b.blob(info.name),
    b.blob(info.version),
    hashes,
    b.blob(info.description),
    b.blob(info.arch),
    b.blob(info.license),
    b.blob(info.origin),
    b.blob(info.maintainer),
    0, // url
    commit,
    b.int(info.buildTime),
    b.int(info.installedSize),
    b.int(fileSize),
    0, // provider-priority
    b.array(acl),
  ]);
}

export function apk3Info(info: BuildInfo, arch: string, files: readonly PayloadFile[]): Apk3Info {
  return {
    name: "bgproxy",
    version: info.versions.apk,
    arch,
    description: DESCRIPTION.join(" "),
    license: LICENSE,
    origin: "bgproxy",
    maintainer: MAINTAINER,
    buildTime: info.versions.sourceDateEpoch,
    installedSize: files.reduce((n, f) => n + f.data.length, 0),
    depends: IPK_DEPENDS,
    commit: info.versions.commit,
  };
}

/** Shell scripts run by apk (OpenWrt's names for them: post-install, pre-deinstall). */
export interface Apk3Scripts {
  readonly postInstall?: Uint8Array;
  readonly preDeinstall?: Uint8Array;
}

export function bgproxyApk3Scripts(): Apk3Scripts {
  return {
    postInstall: imageFile("openwrt/apk-post-install"),
    preDeinstall: imageFile("openwrt/apk-pre-deinstall"),
  };
}

/** The ADB block payload of the package (its header), unique id filled in. */
export function apk3Header(
  meta: Apk3Info,
  files: readonly PayloadFile[],
  mtime: number,
  scripts: Apk3Scripts = {},
) {
  const b = new AdbBuilder();
  const uid = b.blob(new Uint8Array(20).fill(1));
  const acl = (mode: number) => b.object([b.int(mode), b.blob("root"), b.blob("root")]);
  const dirs = directories(files);
  const paths = dirs.map((d) =>
    b.object([
      b.blob(d.name),
      acl(0o755),
      b.array(
        d.files.map((f) =>
          f.symlink !== undefined
            ? b.object([
                b.blob(basename(f.path)),
                acl(0o777),
                b.int(new TextEncoder().encode(f.symlink).length),
                b.int(mtime),
                0,
                b.blob(linkTarget(f.symlink)),
              ])
            : b.object([
                b.blob(basename(f.path)),
                acl(f.mode),
                b.int(f.data.length),
                b.int(mtime),
                b.blob(sha256(f.data)),
              ]),
        ),
      ),
    ]),
  );
  const scriptsObject = b.object([0, 0, b.blob(scripts.postInstall), b.blob(scripts.preDeinstall)]);
  const root = b.object([infoFields(b, meta, uid), b.array(paths), scriptsObject]);
  const payload = b.finish(root);
  // The unique id: SHA-256 of the block with zeros in its place (apk mkpkg's way).
  const at = (uid & 0x0fffffff) + 1;
  payload.fill(0, at, at + 20);
  payload.set(sha256(payload).subarray(0, 20), at);
  return { payload, dirs };
}

function linkTarget(target: string): Uint8Array {
  const t = new TextEncoder().encode(target);
  const out = new Uint8Array(2 + t.length);
  new DataView(out.buffer).setUint16(0, S_IFLNK, true);
  out.set(t, 2);
  return out;
}

/** The DATA blocks of `files` (same for every arch of one binary), raw-deflated once. */
export function apk3Data(files: readonly PayloadFile[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  directories(files).forEach((d, i) => {
    d.files.forEach((f, j) => {
      if (f.symlink === undefined && f.data.length > 0)
        blocks.push(dataBlock(i + 1, j + 1, f.data));
    });
  });
  return deflatePart(Buffer.concat(blocks), true);
}

export interface Apk3Package {
  readonly bytes: Uint8Array;
  /** SHA-256 of the ADB block payload: the package's identity in packages.adb. */
  readonly identity: Uint8Array;
  readonly info: Apk3Info;
}

/** The whole .apk (compressed), given the shared compressed data part. */
export function apk3Package(
  meta: Apk3Info,
  files: readonly PayloadFile[],
  mtime: number,
  compressedData: Uint8Array,
  scripts: Apk3Scripts = {},
  key?: KeyObject,
): Apk3Package {
  const { payload } = apk3Header(meta, files, mtime, scripts);
  const head = Buffer.concat([
    fileHeader(SCHEMA_PACKAGE),
    adbBlock(payload),
    ...(key ? [signatureBlock(SCHEMA_PACKAGE, payload, key)] : []),
  ]);
  return {
    bytes: compressAdb([deflatePart(head, false), compressedData]),
    identity: sha256(payload),
    info: meta,
  };
}

/** packages.adb for `packages` (signed by `key`), compressed as apk mkndx writes it. */
export function apk3Index(
  description: string,
  packages: readonly { info: Apk3Info; identity: Uint8Array; fileSize: number }[],
  key: KeyObject,
): Uint8Array {
  const b = new AdbBuilder();
  const sorted = [...packages].sort(
    (x, y) =>
      compareBytes(x.info.name, y.info.name) || compareBytes(x.info.version, y.info.version),
  );
  const items = sorted.map((p) => infoFields(b, p.info, b.blob(p.identity), p.fileSize));
  const payload = b.finish(b.object([b.blob(description), b.array(items)]));
  const whole = Buffer.concat([
    fileHeader(SCHEMA_INDEX),
    adbBlock(payload),
    signatureBlock(SCHEMA_INDEX, payload, key),
  ]);
  return compressAdb([deflatePart(whole, true)]);
}
