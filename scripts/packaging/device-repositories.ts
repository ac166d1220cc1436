/**
 * The musl packages and the signed repositories a device is pointed at, under
 * dist/packages/ (called by scripts/package.ts):
 *   openwrt/           .ipk for every OpenWrt arch + Packages, Packages.gz, Packages.sig
 *   openwrt-apk/<arch>/ bgproxy-<ver>.apk (apk v3) + packages.adb
 *   alpine/<arch>/      bgproxy-<ver>.apk (apk v2) + APKINDEX.tar.gz
 *   keys/               <usign fingerprint> (opkg), bgproxy-openwrt.pem (apk v3),
 *                       <name>.rsa.pub (Alpine)
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ApkSigner, apkFileName, apkStreams, concatStreams } from "./apk.ts";
import {
  apk3Data,
  apk3FileName,
  apk3Index,
  apk3Info,
  apk3Package,
  apk3Payload,
  bgproxyApk3Scripts,
} from "./apk3.ts";
import type { BuildInfo } from "./build-info.ts";
import {
  type AlpineIndexEntry,
  alpineIndex,
  fingerprintHex,
  type OpkgFeedEntry,
  opkgFeed,
  parseUsignSecret,
  publicPem,
  type RsaKey,
  throwawayEcKey,
  throwawayRsaKey,
  throwawayUsignKey,
  type UsignKey,
  usignPublicFile,
} from "./feeds.ts";
import { ipkArchive, ipkControl, ipkData, ipkFileName } from "./ipk.ts";
import { APK_ARCH, type Arch, IPK_ARCHES } from "./targets.ts";

export type DeviceFormat = "ipk" | "apk3" | "apk";

export interface RepositoryKeys {
  readonly usign: UsignKey;
  readonly openwrtApk: KeyObject;
  readonly alpine: RsaKey;
  /** Which were made here. */
  readonly throwaway: readonly string[];
}

export const OPENWRT_APK_KEY_FILE = "bgproxy-openwrt.pem";

/** Keys from files where given, throwaway ones otherwise. */
export function repositoryKeys(given: {
  usignKey?: string;
  openwrtApkKey?: string;
  apkKey?: string;
  apkKeyName?: string;
}): RepositoryKeys {
  const throwaway: string[] = [];
  const made = <T>(what: string, make: () => T): T => {
    throwaway.push(what);
    return make();
  };
  const usign = given.usignKey
    ? parseUsignSecret(readFileSync(given.usignKey, "utf8"))
    : made("usign", throwawayUsignKey);
  const openwrtApk = given.openwrtApkKey
    ? createPrivateKey(readFileSync(given.openwrtApkKey))
    : made("openwrt-apk", throwawayEcKey);
  const alpine =
    given.apkKey && given.apkKeyName
      ? { privateKey: createPrivateKey(readFileSync(given.apkKey)), name: given.apkKeyName }
      : made("alpine", () => throwawayRsaKey("bgproxy-alpine.rsa.pub"));
  return { usign, openwrtApk, alpine, throwaway };
}

/** Files to write: path relative to dist/packages → bytes. */
export type Output = Map<string, Uint8Array>;

export function publicKeys(keys: RepositoryKeys): Output {
  const text = (s: string) => new TextEncoder().encode(s);
  return new Map([
    [`keys/${fingerprintHex(keys.usign)}`, text(usignPublicFile(keys.usign))],
    [`keys/${OPENWRT_APK_KEY_FILE}`, text(publicPem(keys.openwrtApk))],
    [`keys/${keys.alpine.name}`, text(publicPem(keys.alpine.privateKey))],
  ]);
}

/** .ipk files of `arch` and the entries of the opkg feed. */
export function ipkPackages(info: BuildInfo, arch: Arch, musl: Uint8Array) {
  const data = ipkData(info, musl);
  return IPK_ARCHES[arch].map((ipkArch): OpkgFeedEntry => {
    const fileName = ipkFileName(info, ipkArch);
    return {
      fileName,
      bytes: ipkArchive(info, ipkArch, data, musl),
      control: ipkControl(info, ipkArch, data.tar.length),
    };
  });
}

export function opkgFeedFiles(entries: readonly OpkgFeedEntry[], keys: RepositoryKeys): Output {
  const out: Output = new Map();
  for (const e of entries) out.set(`openwrt/${e.fileName}`, e.bytes);
  for (const [name, bytes] of Object.entries(opkgFeed(entries, keys.usign))) {
    out.set(`openwrt/${name}`, bytes);
  }
  return out;
}

/** OpenWrt 25.x: one .apk and packages.adb per OpenWrt arch of `arch`. */
export function apk3Files(info: BuildInfo, arch: Arch, musl: Uint8Array, keys: RepositoryKeys) {
  const out: Output = new Map();
  const files = apk3Payload(musl);
  const data = apk3Data(files);
  for (const owArch of IPK_ARCHES[arch]) {
    const meta = apk3Info(info, owArch, files);
    const pkg = apk3Package(meta, files, info.versions.sourceDateEpoch, data, bgproxyApk3Scripts());
    const dir = `openwrt-apk/${owArch}`;
    out.set(`${dir}/${apk3FileName(info)}`, pkg.bytes);
    out.set(
      `${dir}/packages.adb`,
      apk3Index(
        `bgproxy ${info.versions.binary}`,
        [{ info: meta, identity: pkg.identity, fileSize: pkg.bytes.length }],
        keys.openwrtApk,
      ),
    );
  }
  return out;
}

/** Alpine: the .apk of `arch` and its APKINDEX.tar.gz. */
export async function alpineFiles(
  info: BuildInfo,
  arch: Arch,
  musl: Uint8Array,
  keys: RepositoryKeys,
  signer?: ApkSigner,
): Promise<Output> {
  const streams = await apkStreams(info, arch, musl, signer);
  const bytes = concatStreams(streams);
  const entry: AlpineIndexEntry = {
    pkginfo: streams.pkginfo,
    control: streams.control,
    fileSize: bytes.length,
  };
  const dir = join("alpine", APK_ARCH[arch]);
  return new Map([
    [`${dir}/${apkFileName(info)}`, bytes],
    [
      `${dir}/APKINDEX.tar.gz`,
      alpineIndex(
        [entry],
        `bgproxy ${info.versions.binary}`,
        keys.alpine,
        info.versions.sourceDateEpoch,
      ),
    ],
  ]);
}
