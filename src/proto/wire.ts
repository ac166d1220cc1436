/**
 * Protobuf wire primitives: sizes, a writer into one preallocated Buffer, and a bounds-checked
 * reader over a Uint8Array. No dependencies, no I/O; the message codec in codec.ts builds on
 * these. Only what ProxyService needs: varints (uint32, int32 enums), length-delimited fields,
 * and skipping of unknown fields.
 */
import { BgpProxyError } from "../core/errors.ts";

/** Protobuf wire types (groups, 3 and 4, are not supported). */
export const WireType = {
  VARINT: 0,
  FIXED64: 1,
  LENGTH_DELIMITED: 2,
  FIXED32: 5,
} as const;

/** Varints longer than this cannot encode a 64-bit value. */
const MAX_VARINT_BYTES = 10;

/** The peer sent bytes that are not a valid message: it broke the contract; retrying the same bytes will not help. */
export class ProtoDecodeError extends BgpProxyError {
  constructor(message: string) {
    super("protocol", message, { retryable: false });
    this.name = "ProtoDecodeError";
  }
}

/** Our own code tried to encode a value its field cannot hold (a bug, never peer input). */
export class ProtoEncodeError extends BgpProxyError {
  constructor(message: string) {
    super("internal", message, { retryable: false });
    this.name = "ProtoEncodeError";
  }
}

/** Throw unless `value` fits a uint32 field (an integer in 0..0xFFFFFFFF). */
export function checkUint32(value: number, name: string): void {
  if (value >>> 0 !== value) {
    throw new ProtoEncodeError(`${name}: ${String(value)} is not a uint32`);
  }
}

/** Throw unless `value` fits an int32 field (enums are int32 on the wire). */
export function checkInt32(value: number, name: string): void {
  if ((value | 0) !== value) {
    throw new ProtoEncodeError(`${name}: ${String(value)} is not an int32`);
  }
}

/**
 * Encoded size of a varint holding `value`: 1..5 bytes for a uint32, 10 bytes for a negative
 * int32 (sign-extended to 64 bits, as protobuf requires).
 */
export function varintSize(value: number): number {
  if (value < 0) return MAX_VARINT_BYTES;
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Encoded size of the tag of field number `field`. */
export function tagSize(field: number): number {
  return varintSize(field << 3);
}

/** Encoded size of a whole length-delimited field (tag, length, `length` payload bytes). */
export function lengthDelimitedSize(field: number, length: number): number {
  return tagSize(field) + varintSize(length) + length;
}

/** Number of bytes `text` takes as UTF-8 (lone surrogates count as U+FFFD, as written). */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Writes fields into one Buffer allocated up front with the exact size the caller computed in
 * a size pass. `finish()` checks that the size pass and the write pass agree.
 */
export class ProtoWriter {
  readonly buf: Buffer;
  pos: number;

  /**
   * `headroom` bytes are left free in front of the message (allocated with it, not written):
   * room for a frame header, so that the framed message needs no second buffer.
   */
  constructor(
    size: number,
    private readonly headroom = 0,
  ) {
    this.buf = Buffer.allocUnsafe(headroom + size);
    this.pos = headroom;
  }

  /** Write a varint: a uint32, or a negative int32 as 10 bytes. */
  varint(value: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (value < 0) {
      // Sign-extend to 64 bits: low word `value`, high word all ones.
      let lo = value >>> 0;
      for (let i = 0; i < 4; i++) {
        buf[pos++] = (lo & 0x7f) | 0x80;
        lo >>>= 7;
      }
      buf[pos++] = lo | 0xf0; // 4 low-word bits + 3 high-word bits, continuation set
      for (let i = 0; i < 4; i++) buf[pos++] = 0xff;
      buf[pos++] = 0x01;
    } else {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[pos++] = v;
    }
    this.pos = pos;
  }

  /** Write the tag of field `field` with wire type `wireType`. */
  tag(field: number, wireType: number): void {
    this.varint(((field << 3) | wireType) >>> 0);
  }

  /** Write a length-delimited field holding `bytes` (copied with one `Buffer.set`). */
  bytes(field: number, bytes: Uint8Array): void {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.varint(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /**
   * Write one length-delimited field holding the concatenation of `parts` (`length` bytes in
   * all), each copied with one `Buffer.set`: no intermediate buffer for the concatenation.
   */
  joinedBytes(field: number, parts: readonly Uint8Array[], length: number): void {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.varint(length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Uint8Array;
      buf.set(part, pos);
      pos += part.length;
    }
    this.pos = pos;
  }

  /** Write a length-delimited field holding `text` as UTF-8; `byteLength` is `utf8Length(text)`. */
  string(field: number, text: string, byteLength: number): void {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.varint(byteLength);
    if (byteLength > 0) this.buf.write(text, this.pos, byteLength, "utf8");
    this.pos += byteLength;
  }

  /**
   * Return the filled buffer (after the headroom: a view of `buf`); throws if the size pass
   * and the write pass disagree.
   */
  finish(): Buffer {
    if (this.pos !== this.buf.length) {
      throw new ProtoEncodeError(
        `encoder wrote ${this.pos - this.headroom} bytes into a buffer sized ${this.buf.length - this.headroom}`,
      );
    }
    return this.headroom === 0 ? this.buf : this.buf.subarray(this.headroom);
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads fields from `buf[start, end)`. Every read checks bounds and throws ProtoDecodeError
 * naming the field number and byte offset; nothing is copied unless a method says so.
 */
export class ProtoReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  /** Field number of the last tag read (0 before the first), for error messages. */
  field = 0;
  /** Whether the last `readVarint` had bits above bit 31 set. */
  overflow = false;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** True while unread bytes remain. */
  more(): boolean {
    return this.pos < this.end;
  }

  private fail(what: string, at: number): never {
    const where = this.field === 0 ? "" : ` in field ${this.field}`;
    throw new ProtoDecodeError(`${what}${where} at offset ${at}`);
  }

  /**
   * Read a varint of up to 10 bytes and return its low 32 bits as an unsigned number (how
   * protobuf narrows uint32 fields). `overflow` is set when higher bits were non-zero.
   */
  readVarint(): number {
    const buf = this.buf;
    const end = this.end;
    const start = this.pos;
    let pos = start;
    let lo = 0;
    let shift = 0;
    let high = 0;
    for (let i = 0; ; i++) {
      if (pos >= end) this.fail("truncated varint", start);
      const b = buf[pos++] as number;
      if (shift < 28) {
        lo |= (b & 0x7f) << shift;
      } else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        high |= b & 0x70;
      } else {
        if (i === MAX_VARINT_BYTES - 1) {
          if (b >= 0x80) this.fail("varint longer than 10 bytes", start);
          // The tenth byte may only carry bit 63.
          if (b > 1) this.fail("varint overflows 64 bits", start);
        }
        high |= b & 0x7f;
      }
      shift += 7;
      if (b < 0x80) break;
    }
    this.pos = pos;
    this.overflow = high !== 0;
    return lo >>> 0;
  }

  /** Read an int32 (an enum): the low 32 bits of the varint, as a signed number. */
  readInt32(): number {
    return this.readVarint() | 0;
  }

  /**
   * Read a tag and return it as `field << 3 | wireType`; records the field number for error
   * messages. Field number 0 and tags wider than 32 bits are rejected.
   */
  readTag(): number {
    const at = this.pos;
    const tag = this.readVarint();
    if (this.overflow) this.fail("tag wider than 32 bits", at);
    this.field = tag >>> 3;
    if (this.field === 0) this.fail("field number 0", at);
    return tag;
  }

  /** Read a length prefix, check that that many bytes remain, and return the length. */
  private readLength(): number {
    const at = this.pos;
    const length = this.readVarint();
    if (this.overflow || length > this.end - this.pos) {
      this.fail(`length-delimited payload overruns the message (length ${length})`, at);
    }
    return length;
  }

  /** Read a length-delimited payload as a zero-copy view into the input. */
  readLengthDelimited(): Uint8Array {
    const length = this.readLength();
    const start = this.pos;
    this.pos = start + length;
    return this.buf.subarray(start, this.pos);
  }

  /** Read a length-delimited payload and return a reader over it (for nested messages). */
  readNested(): ProtoReader {
    const length = this.readLength();
    const start = this.pos;
    this.pos = start + length;
    return new ProtoReader(this.buf, start, this.pos);
  }

  /** Read a length-delimited payload as a string; invalid UTF-8 is rejected, a BOM is kept. */
  readString(): string {
    const at = this.pos;
    const bytes = this.readLengthDelimited();
    if (bytes.length === 0) return "";
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      return this.fail("invalid UTF-8", at);
    }
  }

  /** Skip the payload of an unknown field of wire type 0, 1, 2 or 5; anything else throws. */
  skipField(wireType: number): void {
    const at = this.pos;
    switch (wireType) {
      case WireType.VARINT:
        this.readVarint();
        return;
      case WireType.FIXED64:
        this.skipBytes(8, at);
        return;
      case WireType.LENGTH_DELIMITED: {
        const length = this.readLength(); // advances past the prefix first
        this.pos += length;
        return;
      }
      case WireType.FIXED32:
        this.skipBytes(4, at);
        return;
      case 3:
      case 4:
        this.fail("groups (wire types 3 and 4) are not supported", at);
        break;
      default:
        this.fail(`unknown wire type ${wireType}`, at);
    }
  }

  private skipBytes(count: number, at: number): void {
    if (count > this.end - this.pos) this.fail("truncated fixed-width value", at);
    this.pos += count;
  }
}
