/**
 * Reads what a 64-bit little-endian ELF executable needs from the system it runs on: its
 * machine, program interpreter (the dynamic loader), DT_NEEDED libraries and the symbol
 * versions it requires of each (GLIBC_2.17 ...). Pure: bytes in, a description out.
 *
 * The packagers use it to declare dependencies (libc6 (>= 2.17) for Debian, libstdc++ and
 * libgcc for the musl builds) and the tests use it to check them against the binaries.
 */

export interface ElfInfo {
  readonly machine: "x86-64" | "aarch64" | `machine ${number}`;
  readonly interpreter?: string;
  readonly needed: readonly string[];
  /** Library file → versions required from it. */
  readonly versionNeeds: ReadonlyMap<string, readonly string[]>;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_VERNEED = 0x6ffffffen;
const DT_VERNEEDNUM = 0x6fffffffn;

const MACHINES: Record<number, ElfInfo["machine"]> = { 62: "x86-64", 183: "aarch64" };

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

export function readElf(bytes: Uint8Array): ElfInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || view.getUint32(0) !== 0x7f454c46) throw new Error("not an ELF file");
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new Error("only 64-bit little-endian ELF is read");
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const cstring = (at: number) => {
    let end = at;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(at, end));
  };

  const machineCode = u16(18);
  const phoff = u64(32);
  const phentsize = u16(54);
  const phnum = u16(56);
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    segments.push({
      type: u32(at),
      offset: u64(at + 8),
      vaddr: u64(at + 16),
      filesz: u64(at + 32),
    });
  }
  /** A virtual address inside a loaded segment → its file offset. */
  const fileOffset = (vaddr: number): number => {
    const seg = segments.find(
      (s) => s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz,
    );
    if (!seg) throw new Error(`address 0x${vaddr.toString(16)} is in no loaded segment`);
    return seg.offset + (vaddr - seg.vaddr);
  };

  const interp = segments.find((s) => s.type === PT_INTERP);
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
  const neededOffsets: number[] = [];
  let strtab: number | undefined;
  let verneed: number | undefined;
  let verneednum = 0;
  if (dynamic) {
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
      const tag = view.getBigInt64(at, true);
      const value = u64(at + 8);
      if (tag === DT_NULL) break;
      if (tag === DT_NEEDED) neededOffsets.push(value);
      else if (tag === DT_STRTAB) strtab = value;
      else if (tag === DT_VERNEED) verneed = value;
      else if (tag === DT_VERNEEDNUM) verneednum = value;
    }
  }
  const strings = strtab === undefined ? undefined : fileOffset(strtab);
  const str = (offset: number) => {
    if (strings === undefined) throw new Error("dynamic section without DT_STRTAB");
    return cstring(strings + offset);
  };

  const versionNeeds = new Map<string, string[]>();
  if (verneed !== undefined) {
    let at = fileOffset(verneed);
    for (let i = 0; i < verneednum; i++) {
      const count = u16(at + 2);
      const file = str(u32(at + 4));
      const versions: string[] = [];
      let aux = at + u32(at + 8);
      for (let j = 0; j < count; j++) {
        versions.push(str(u32(aux + 8)));
        aux += u32(aux + 12);
      }
      versionNeeds.set(file, versions);
      at += u32(at + 12);
    }
  }

  return {
    machine: MACHINES[machineCode] ?? `machine ${machineCode}`,
    ...(interp ? { interpreter: cstring(interp.offset) } : {}),
    needed: neededOffsets.map(str),
    versionNeeds,
  };
}

/** The highest GLIBC_x.y the binary requires, e.g. "2.17", or undefined for a non-glibc one. */
export function minimumGlibc(info: ElfInfo): string | undefined {
  const versions = [...info.versionNeeds.values()]
    .flat()
    .map((v) => v.match(/^GLIBC_(\d+(?:\.\d+)*)$/)?.[1])
    .filter((v): v is string => v !== undefined);
  return versions.sort(compareDotted).at(-1);
}

function compareDotted(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The bytes of the section named `name` (e.g. ".bun", where `bun build --compile` stores
 * the bundled program), or undefined when there is none.
 */
export function readSection(bytes: Uint8Array, name: string): Uint8Array | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
    };
  };
  const names = header(shstrndx).offset;
  const wanted = new TextEncoder().encode(`${name}\0`);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const at = names + h.name;
    if (wanted.every((b, j) => bytes[at + j] === b)) {
      return bytes.subarray(h.offset, h.offset + h.size);
    }
  }
  return undefined;
}
