/**
 * Signed package feeds a device can be pointed at, written without the target systems'
 * tools:
 * - opkg (OpenWrt 24.10): Packages, Packages.gz and Packages.sig, a usign signature
 *   (Ed25519 over the Packages file; usign's key files are base64 of
 *   {"Ed", 8-byte fingerprint, key}, the secret one {"Ed", "BK", rounds 0, salt, checksum,
 *   fingerprint, 64-byte key whose first half is the Ed25519 seed});
 * - Alpine (apk v2): APKINDEX.tar.gz, a gzip stream holding the RSA signature
 *   (.SIGN.RSA256.<name>.rsa.pub over the next stream) then the gzip stream of the tar
 *   with APKINDEX and DESCRIPTION; each package's C: is Q1 + base64 SHA-1 of its control
 *   stream, which apk checks before trusting the package;
 * - OpenWrt 25.x (apk v3): packages.adb (apk3.ts).
 * Keys are given (--usign-key, --apk-key, --openwrt-apk-key) or made here, throwaway.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { gzip } from "./payload.ts";
import { tarArchive } from "./tar-writer.ts";

export interface UsignKey {
  /** 8 bytes; files in /etc/opkg/keys are named by its hex. */
  readonly fingerprint: Uint8Array;
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function usignFromSeed(seed: Uint8Array, fingerprint: Uint8Array): UsignKey {
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  return { fingerprint, privateKey, publicKey: Buffer.from(jwk.x ?? "", "base64url") };
}

export function fingerprintHex(key: UsignKey): string {
  return Buffer.from(key.fingerprint).toString("hex");
}

function base64File(comment: string, data: Uint8Array): string {
  return `untrusted comment: ${comment}\n${Buffer.from(data).toString("base64")}\n`;
}

function base64Payload(text: string): Buffer {
  const line = text.split("\n").find((l) => l !== "" && !l.startsWith("untrusted comment:"));
  return Buffer.from(line ?? "", "base64");
}

/** A usign secret key file (as `usign -G -s FILE` writes it; no password). */
export function parseUsignSecret(text: string): UsignKey {
  const raw = base64Payload(text);
  if (raw.length !== 104 || raw.toString("latin1", 0, 2) !== "Ed") {
    throw new Error("not a usign secret key (usign -G -s FILE makes one)");
  }
  if (raw.readUInt32BE(4) !== 0) throw new Error("password-protected usign keys are not supported");
  return usignFromSeed(raw.subarray(40, 72), raw.subarray(32, 40));
}

export function throwawayUsignKey(): UsignKey {
  return usignFromSeed(randomBytes(32), randomBytes(8));
}

/** The public key file, for /etc/opkg/keys/<fingerprint> (`opkg-key add FILE`). */
export function usignPublicFile(key: UsignKey): string {
  const data = Buffer.concat([Buffer.from("Ed"), key.fingerprint, key.publicKey]);
  return base64File(`bgproxy feed public key ${fingerprintHex(key)}`, data);
}

/** A detached signature file of `message` (`usign -S -m FILE`). */
export function usignSign(key: UsignKey, message: Uint8Array): string {
  const sig = sign(null, message, key.privateKey);
  return base64File(
    `signed by key ${fingerprintHex(key)}`,
    Buffer.concat([Buffer.from("Ed"), key.fingerprint, sig]),
  );
}

export interface OpkgFeedEntry {
  readonly fileName: string;
  readonly bytes: Uint8Array;
  /** The package's control file (Package, Version, Depends, ..., Description last). */
  readonly control: string;
}

function sha256Hex(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** Packages: each control paragraph with Filename, Size and SHA256sum, as OpenWrt's feeds. */
export function opkgPackages(entries: readonly OpkgFeedEntry[]): string {
  return entries
    .map((e) => {
      const lines = e.control.trimEnd().split("\n");
      const description = lines.findIndex((l) => l.startsWith("Description:"));
      const head = description < 0 ? lines : lines.slice(0, description);
      const tail = description < 0 ? [] : lines.slice(description);
      return [
        ...head,
        `Filename: ${e.fileName}`,
        `Size: ${e.bytes.length}`,
        `SHA256sum: ${sha256Hex(e.bytes)}`,
        ...tail,
        "",
      ].join("\n");
    })
    .join("\n");
}

export function opkgFeed(entries: readonly OpkgFeedEntry[], key: UsignKey) {
  const packages = new TextEncoder().encode(opkgPackages(entries));
  return {
    Packages: packages,
    "Packages.gz": gzip(packages),
    "Packages.sig": new TextEncoder().encode(usignSign(key, packages)),
  };
}

export interface RsaKey {
  readonly privateKey: KeyObject;
  /** The public key's file name in /etc/apk/keys, e.g. bgproxy.rsa.pub. */
  readonly name: string;
}

export function throwawayRsaKey(name: string): RsaKey {
  return { privateKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, name };
}

/** OpenWrt signs its apk v3 indexes with ECDSA P-256 keys. */
export function throwawayEcKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
}

export function publicPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
}

export interface AlpineIndexEntry {
  /** The package's .PKGINFO text. */
  readonly pkginfo: string;
  /** Its control gzip stream (what C: identifies). */
  readonly control: Uint8Array;
  readonly fileSize: number;
}

const PKGINFO_FIELDS: Readonly<Record<string, string>> = {
  pkgname: "P",
  pkgver: "V",
  arch: "A",
  size: "I",
  pkgdesc: "T",
  url: "U",
  license: "L",
  origin: "o",
  maintainer: "m",
  builddate: "t",
  commit: "c",
};

/** One APKINDEX paragraph, in the order apk index writes the fields. */
export function apkIndexEntry(e: AlpineIndexEntry): string {
  const fields = new Map<string, string>();
  const depends: string[] = [];
  for (const line of e.pkginfo.split("\n")) {
    const m = line.match(/^(\w+) = (.*)$/);
    if (!m?.[1] || m[2] === undefined) continue;
    if (m[1] === "depend") depends.push(m[2]);
    const letter = PKGINFO_FIELDS[m[1]];
    if (letter) fields.set(letter, m[2]);
  }
  const sha1 = new Bun.CryptoHasher("sha1").update(e.control).digest("base64");
  const lines = [`C:Q1${sha1}`];
  for (const letter of ["P", "V", "A"]) lines.push(`${letter}:${fields.get(letter) ?? ""}`);
  lines.push(`S:${e.fileSize}`);
  for (const letter of ["I", "T", "U", "L", "o", "m", "t", "c"]) {
    const v = fields.get(letter);
    if (v !== undefined) lines.push(`${letter}:${v}`);
  }
  if (depends.length > 0) lines.push(`D:${depends.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/** APKINDEX.tar.gz of `entries`, signed by `key` (RSA, SHA-256). */
export function alpineIndex(
  entries: readonly AlpineIndexEntry[],
  description: string,
  key: RsaKey,
  mtime: number,
): Uint8Array {
  const text = (s: string) => new TextEncoder().encode(s);
  const index = gzip(
    tarArchive(
      [
        { type: "file", path: "DESCRIPTION", mode: 0o644, data: text(description) },
        {
          type: "file",
          path: "APKINDEX",
          mode: 0o644,
          data: text(`${entries.map(apkIndexEntry).join("\n")}\n`),
        },
      ],
      { mtime },
    ),
  );
  const signature = gzip(
    tarArchive(
      [
        {
          type: "file",
          path: `.SIGN.RSA256.${key.name}`,
          mode: 0o644,
          data: sign("sha256", index, key.privateKey),
        },
      ],
      { mtime, endOfArchive: false },
    ),
  );
  return Buffer.concat([signature, index]);
}
