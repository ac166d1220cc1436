/**
 * A growable big-endian byte buffer for the encoders. Lengths written before their
 * contents are known are reserved and patched with `patchU8`/`patchU16`.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialCapacity = 64) {
    this.buf = new Uint8Array(initialCapacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf[this.pos++] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (value >>> 8) & 0xff;
    this.buf[this.pos++] = value & 0xff;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.buf[this.pos++] = (value >>> 24) & 0xff;
    this.buf[this.pos++] = (value >>> 16) & 0xff;
    this.buf[this.pos++] = (value >>> 8) & 0xff;
    this.buf[this.pos++] = value & 0xff;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** Overwrite one octet at `offset` (already written). */
  patchU8(offset: number, value: number): void {
    this.buf[offset] = value & 0xff;
  }

  /** Overwrite two octets at `offset` (already written). */
  patchU16(offset: number, value: number): void {
    this.buf[offset] = (value >>> 8) & 0xff;
    this.buf[offset + 1] = value & 0xff;
  }

  /** A copy of the written bytes, exactly `length` long. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
