/**
 * A small POSIX tar (ustar + pax extended headers) writer for the .ipk and .apk archives.
 * Pure: entries in, bytes out; owners are numeric root, times fixed by the caller, so the
 * same input gives the same bytes (reproducible packages).
 *
 * Format (POSIX.1-2001 / pax): every entry is a 512-byte header followed by its data padded
 * to 512 bytes; an entry may be preceded by a typeflag 'x' header whose data are
 * "<length> <key>=<value>\n" records about the next entry; the archive ends with two
 * zero-filled blocks, which `endOfArchive: false` leaves out so that another tar stream can
 * follow (the "tar segment" of Alpine's package format).
 */

export type TarEntry =
  | { readonly type: "dir"; readonly path: string; readonly mode: number }
  | {
      readonly type: "file";
      readonly path: string;
      readonly mode: number;
      readonly data: Uint8Array;
      /** pax records written in an extended header just before this entry. */
      readonly pax?: Readonly<Record<string, string>>;
    }
  | {
      readonly type: "symlink";
      readonly path: string;
      readonly target: string;
      readonly pax?: Readonly<Record<string, string>>;
    };

export interface TarOptions {
  /** Modification time of every entry, seconds since the epoch. */
  readonly mtime: number;
  /** Write the two zero blocks that end an archive; default true. */
  readonly endOfArchive?: boolean;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function padded(length: number): number {
  return Math.ceil(length / BLOCK) * BLOCK;
}

/** "<len> key=value\n" where len counts the whole record, itself included. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

/** ustar keeps a path in name (100) or prefix (155) + "/" + name (100). */
function splitPath(path: string): { name: string; prefix: string } {
  if (encoder.encode(path).length <= 100) return { name: path, prefix: "" };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) {
      return { name, prefix };
    }
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function putString(block: Uint8Array, at: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`tar: ${JSON.stringify(value)} exceeds ${length}`);
  block.set(bytes, at);
}

/** Octal, zero-padded to length-1 digits, NUL-terminated. */
function putOctal(block: Uint8Array, at: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar: ${value} does not fit ${length} octets`);
  putString(block, at, length, `${digits.padStart(length - 1, "0")}\0`);
}

interface Header {
  path: string;
  mode: number;
  size: number;
  typeflag: string;
  linkname?: string;
  mtime: number;
}

function header(h: Header): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const { name, prefix } = splitPath(h.path);
  putString(block, 0, 100, name);
  putOctal(block, 100, 8, h.mode);
  putOctal(block, 108, 8, 0); // uid
  putOctal(block, 116, 8, 0); // gid
  putOctal(block, 124, 12, h.size);
  putOctal(block, 136, 12, h.mtime);
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  putString(block, 156, 1, h.typeflag);
  putString(block, 157, 100, h.linkname ?? "");
  putString(block, 257, 6, "ustar"); // magic "ustar\0"
  putString(block, 263, 2, "00");
  putString(block, 265, 32, "root");
  putString(block, 297, 32, "root");
  putOctal(block, 329, 8, 0);
  putOctal(block, 337, 8, 0);
  putString(block, 345, 155, prefix);
  const sum = block.reduce((a, b) => a + b, 0);
  putString(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

function paxEntry(forPath: string, records: Readonly<Record<string, string>>, mtime: number) {
  const data = encoder.encode(
    Object.entries(records)
      .map(([k, v]) => paxRecord(k, v))
      .join(""),
  );
  const base = forPath.replace(/\/$/, "").split("/").pop() ?? "entry";
  const dir = forPath.includes("/") ? forPath.slice(0, forPath.lastIndexOf("/")) : ".";
  return {
    header: header({
      path: `${dir}/PaxHeaders/${base}`,
      mode: 0o644,
      size: data.length,
      typeflag: "x",
      mtime,
    }),
    data,
  };
}

/** The archive's bytes. Directories get a trailing "/" as GNU tar writes them. */
export function tarArchive(entries: readonly TarEntry[], options: TarOptions): Uint8Array {
  const parts: Uint8Array[] = [];
  const add = (head: Uint8Array, data?: Uint8Array) => {
    parts.push(head);
    if (data && data.length > 0) {
      parts.push(data);
      const pad = padded(data.length) - data.length;
      if (pad > 0) parts.push(new Uint8Array(pad));
    }
  };
  for (const e of entries) {
    if (e.type !== "dir" && e.pax && Object.keys(e.pax).length > 0) {
      const p = paxEntry(e.path, e.pax, options.mtime);
      add(p.header, p.data);
    }
    if (e.type === "dir") {
      const path = e.path.endsWith("/") ? e.path : `${e.path}/`;
      add(header({ path, mode: e.mode, size: 0, typeflag: "5", mtime: options.mtime }));
    } else if (e.type === "file") {
      add(
        header({
          path: e.path,
          mode: e.mode,
          size: e.data.length,
          typeflag: "0",
          mtime: options.mtime,
        }),
        e.data,
      );
    } else {
      add(
        header({
          path: e.path,
          mode: 0o777,
          size: 0,
          typeflag: "2",
          linkname: e.target,
          mtime: options.mtime,
        }),
      );
    }
  }
  if (options.endOfArchive !== false) parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Directory entries for every parent of `paths` ("./usr", "./usr/bin" ...), sorted, so that
 * an archive creates its directories with known modes before their files.
 */
export function parentDirectories(paths: readonly string[], mode = 0o755): TarEntry[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (dir !== "" && dir !== ".") dirs.add(dir);
    }
  }
  return [...dirs].sort().map((path) => ({ type: "dir" as const, path, mode }));
}
