/**
 * A minimal tar reader for the tests: headers, pax records and data of each entry, and
 * whether the archive ends with the two zero blocks. Written from the POSIX ustar/pax
 * description independently of scripts/packaging/tar-writer.ts; GNU tar is used beside it
 * as the outside reader.
 */

export interface TarMember {
  readonly name: string;
  /** '0' file, '5' directory, '2' symlink. */
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly data: Uint8Array;
  /** Records of a preceding 'x' header. */
  readonly pax: ReadonlyMap<string, string>;
}

export interface TarContents {
  readonly members: readonly TarMember[];
  /** Two zero blocks were found at the end. */
  readonly ended: boolean;
}

const decoder = new TextDecoder();

function field(block: Uint8Array, at: number, length: number): string {
  const raw = block.subarray(at, at + length);
  const nul = raw.indexOf(0);
  return decoder.decode(nul < 0 ? raw : raw.subarray(0, nul));
}

function octal(block: Uint8Array, at: number, length: number): number {
  const text = field(block, at, length).trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number(decoder.decode(data.subarray(at, space)));
    if (!Number.isInteger(length) || length <= 0) throw new Error(`bad pax record at ${at}`);
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    if (data[at + length - 1] !== 0x0a) throw new Error(`pax record at ${at} does not end in \\n`);
    const eq = record.indexOf("=");
    records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

export function readTar(bytes: Uint8Array): TarContents {
  const members: TarMember[] = [];
  let pax = new Map<string, string>();
  let at = 0;
  while (at + 512 <= bytes.length) {
    const block = bytes.subarray(at, at + 512);
    if (block.every((b) => b === 0)) {
      const next = bytes.subarray(at + 512, at + 1024);
      return { members, ended: next.length === 512 && next.every((b) => b === 0) };
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    if (sum !== octal(block, 148, 8)) throw new Error(`bad header checksum at ${at}`);
    if (field(block, 257, 6) !== "ustar") throw new Error(`not a ustar header at ${at}`);
    const size = octal(block, 124, 12);
    const data = bytes.subarray(at + 512, at + 512 + size);
    const type = field(block, 156, 1) || "0";
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      pax = parsePax(data);
      continue;
    }
    const prefix = field(block, 345, 155);
    const name = field(block, 0, 100);
    members.push({
      name: pax.get("path") ?? (prefix ? `${prefix}/${name}` : name),
      type,
      mode: octal(block, 100, 8),
      uid: octal(block, 108, 8),
      gid: octal(block, 116, 8),
      mtime: octal(block, 136, 12),
      linkname: field(block, 157, 100),
      data,
      pax,
    });
    pax = new Map();
  }
  return { members, ended: false };
}
