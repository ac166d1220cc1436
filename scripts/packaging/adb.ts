/**
 * apk-tools 3 "ADB" containers (OpenWrt 25.x packages and packages.adb indexes), written
 * here: apk-tools is not a Debian package, and `npm run package` must not need it.
 *
 * Wire format (apk-v3(5), and apk-tools' adb.h/adb.c):
 * - a file is "ADB." + le32 schema ("pckg" package, "indx" index), then blocks; a block is
 *   a le32 tag (2 bits type: 0 ADB, 1 SIG, 2 DATA; 30 bits: 4 + payload length), the
 *   payload, zero padding to 8 bytes;
 * - the ADB block's payload starts with an 8-byte header (compat 0, version 0, reserved,
 *   le32 root value); every value is a le32 tag: 4 bits type, 28 bits an immediate or the
 *   offset (from the payload's start) of the value: Int (immediate < 2^28), Int32/Int64,
 *   Blob8/16/32 (length then bytes), Array/Object (le32 slot count n, then n-1 values;
 *   trailing nulls trimmed; slot i is field i of the schema);
 * - a SIG block signs the ADB payload: {0, hash alg 4 (SHA-512), 16-byte key id}, then the
 *   signature of (le32 schema || those 18 bytes || SHA-512 of the ADB payload), made with
 *   SHA-512 by the key (RSA PKCS#1 v1.5 or ECDSA); the key id is the first 16 bytes of
 *   SHA-512 of the DER public key (PKCS#1 RSAPublicKey, or the EC point);
 * - a compressed file is "ADBd" + raw deflate of the whole.
 * Pure: values in, bytes out.
 */
import { createPublicKey, type KeyObject, sign } from "node:crypto";
import { constants, deflateRawSync } from "node:zlib";

export const SCHEMA_PACKAGE = 0x676b6370; // "pckg"
export const SCHEMA_INDEX = 0x78646e69; // "indx"

const TYPE_INT = 0x10000000;
const TYPE_INT_32 = 0x20000000;
const TYPE_INT_64 = 0x30000000;
const TYPE_BLOB_8 = 0x80000000;
const TYPE_BLOB_16 = 0x90000000;
const TYPE_BLOB_32 = 0xa0000000;
const TYPE_ARRAY = 0xd0000000;
const TYPE_OBJECT = 0xe0000000;
export const ADB_NULL = 0;

const BLOCK_ADB = 0;
const BLOCK_SIG = 1;
const BLOCK_DATA = 2;
const DIGEST_SHA512 = 4;

/** Builds one ADB block payload; values are their le32 tags (numbers). */
export class AdbBuilder {
  private bytes = new Uint8Array(1 << 16);
  private length = 8; // the header, root filled by finish()

  private append(data: Uint8Array, alignment: number): number {
    this.length = Math.ceil(this.length / alignment) * alignment;
    if (this.length + data.length > this.bytes.length) {
      let size = this.bytes.length;
      while (this.length + data.length > size) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    const offset = this.length;
    if (offset > 0x0fffffff) throw new Error("adb: block larger than 256 MiB");
    this.bytes.set(data, offset);
    this.length += data.length;
    return offset;
  }

  blob(data: Uint8Array | string | undefined): number {
    if (data === undefined) return ADB_NULL;
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0) return ADB_NULL;
    const width = bytes.length > 0xffff ? 4 : bytes.length > 0xff ? 2 : 1;
    const out = new Uint8Array(width + bytes.length);
    const view = new DataView(out.buffer);
    if (width === 4) view.setUint32(0, bytes.length, true);
    else if (width === 2) view.setUint16(0, bytes.length, true);
    else out[0] = bytes.length;
    out.set(bytes, width);
    const type = width === 4 ? TYPE_BLOB_32 : width === 2 ? TYPE_BLOB_16 : TYPE_BLOB_8;
    return (type | this.append(out, width)) >>> 0;
  }

  int(value: number | undefined): number {
    if (value === undefined) return ADB_NULL;
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`adb: bad integer ${value}`);
    if (value < 0x10000000) return (TYPE_INT | value) >>> 0;
    if (value < 0x100000000) {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, value, true);
      return (TYPE_INT_32 | this.append(out, 4)) >>> 0;
    }
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
    return (TYPE_INT_64 | this.append(out, 4)) >>> 0;
  }

  private slots(type: number, values: readonly number[]): number {
    let n = values.length;
    while (n > 0 && values[n - 1] === ADB_NULL) n--;
    if (n === 0) return ADB_NULL;
    const out = new Uint8Array(4 * (n + 1));
    const view = new DataView(out.buffer);
    view.setUint32(0, n + 1, true);
    for (let i = 0; i < n; i++) view.setUint32(4 * (i + 1), values[i] ?? ADB_NULL, true);
    return (type | this.append(out, 4)) >>> 0;
  }

  /** `fields[i]` is field i+1 of the schema (ADB_NULL when absent). */
  object(fields: readonly number[]): number {
    return this.slots(TYPE_OBJECT, fields);
  }

  /** Items in the order the schema sorts them (the caller sorts). */
  array(items: readonly number[]): number {
    return this.slots(
      TYPE_ARRAY,
      items.filter((v) => v !== ADB_NULL),
    );
  }

  /** The payload with `root` as its root value. */
  finish(root: number): Uint8Array {
    const out = this.bytes.slice(0, this.length);
    new DataView(out.buffer).setUint32(4, root, true);
    return out;
  }
}

/** Byte order of blobs as apk sorts them (memcmp, then length). */
export function compareBytes(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return x.length - y.length;
}

function block(type: number, parts: readonly Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (length > 0x3fffffff - 4) throw new Error("adb: block too large");
  const raw = 4 + length;
  const out = new Uint8Array(Math.ceil(raw / 8) * 8);
  new DataView(out.buffer).setUint32(0, ((type << 30) >>> 0) + raw, true);
  let at = 4;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function fileHeader(schema: number): Uint8Array {
  const out = new Uint8Array(8);
  out.set(new TextEncoder().encode("ADB."), 0);
  new DataView(out.buffer).setUint32(4, schema, true);
  return out;
}

export function adbBlock(payload: Uint8Array): Uint8Array {
  return block(BLOCK_ADB, [payload]);
}

/** A DATA block of a package: the file at (path index, file index), 1-based. */
export function dataBlock(pathIndex: number, fileIndex: number, content: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, pathIndex, true);
  view.setUint32(4, fileIndex, true);
  return block(BLOCK_DATA, [head, content]);
}

/** apk-tools' key id: SHA-512 of the DER public key (PKCS#1 for RSA, the point for EC). */
export function adbKeyId(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  let der: Uint8Array;
  if (pub.asymmetricKeyType === "rsa") {
    der = pub.export({ type: "pkcs1", format: "der" });
  } else if (pub.asymmetricKeyType === "ec") {
    // SubjectPublicKeyInfo ends with the BIT STRING of the uncompressed point.
    const spki = pub.export({ type: "spki", format: "der" });
    const jwk = pub.export({ format: "jwk" });
    const size = Buffer.from(jwk.x ?? "", "base64url").length;
    der = spki.subarray(spki.length - (1 + 2 * size));
  } else {
    throw new Error(`adb: ${pub.asymmetricKeyType} keys are not supported (RSA or EC)`);
  }
  return new Uint8Array(new Bun.CryptoHasher("sha512").update(der).digest()).subarray(0, 16);
}

/** The SIG block for `payload` (an ADB block's payload) of `schema`, signed by `key`. */
export function signatureBlock(schema: number, payload: Uint8Array, key: KeyObject): Uint8Array {
  const head = new Uint8Array(18);
  head[0] = 0;
  head[1] = DIGEST_SHA512;
  head.set(adbKeyId(key), 2);
  const schemaBytes = new Uint8Array(4);
  new DataView(schemaBytes.buffer).setUint32(0, schema, true);
  const digest = new Uint8Array(new Bun.CryptoHasher("sha512").update(payload).digest());
  const message = Buffer.concat([schemaBytes, head, digest]);
  return block(BLOCK_SIG, [head, sign("sha512", message, key)]);
}

/** "ADBd" + raw deflate of `parts`; each part is compressed alone, so a part shared by
 * several files (the package's data blocks) is compressed once. */
export function compressAdb(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat([new TextEncoder().encode("ADBd"), ...parts]);
}

/** One part for compressAdb: raw deflate, ended by a sync flush unless `last`. */
export function deflatePart(data: Uint8Array, last: boolean): Uint8Array {
  return deflateRawSync(data, {
    level: 9,
    ...(last ? {} : { finishFlush: constants.Z_SYNC_FLUSH }),
  });
}
