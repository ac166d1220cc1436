import { HEADER_LENGTH, MessageType } from "../../bgp/constants.ts";

/**
 * Follows BGP message boundaries through a byte stream without copying it: for every
 * message that ends inside a pushed chunk, the visitor gets its type, the offset in that
 * chunk just past its last octet, and — for every type but UPDATE, and for UPDATEs of at
 * most KEPT_UPDATE_LENGTH octets (End-of-RIB markers) — the whole message (header
 * included). Other UPDATEs are skipped by length, so a full table costs a few integer
 * operations per message. Only the header is checked (its length field); the marker and
 * the rest are the far end's business, as in a plain relay. A length outside 19..max makes
 * the cursor fail for good (`failed`).
 */
/** The longest UPDATE kept whole: an RFC 4724 End-of-RIB marker for a family (29 octets). */
export const KEPT_UPDATE_LENGTH = 29;

export type MessageVisitor = (type: number, end: number, message: Uint8Array | undefined) => void;

export class MessageCursor {
  private readonly header = new Uint8Array(HEADER_LENGTH);
  private headerFill = 0;
  /** Octets of the current message still to come after its header. */
  private remaining = 0;
  private type = 0;
  /** The current message's octets so far, for the types that are kept. */
  private kept?: Uint8Array;
  private keptFill = 0;
  private broken = false;

  constructor(private readonly maxLength = 4096) {}

  /** True while part of a message has been seen and the rest has not. */
  get midMessage(): boolean {
    return this.headerFill > 0 || this.remaining > 0;
  }

  get failed(): boolean {
    return this.broken;
  }

  /** Walks `chunk`; calls `visit` for each message completed in it. */
  push(chunk: Uint8Array, visit: MessageVisitor): void {
    let i = 0;
    const n = chunk.length;
    while (i < n && !this.broken) {
      if (this.remaining === 0 && this.headerFill === 0 && n - i >= HEADER_LENGTH) {
        // Fast path: a whole header inside the chunk.
        const length = ((chunk[i + 16] as number) << 8) | (chunk[i + 17] as number);
        if (!this.start(length, chunk[i + 18] as number)) return;
        if (this.kept) this.keep(chunk.subarray(i, i + HEADER_LENGTH));
        i += HEADER_LENGTH;
      } else if (this.remaining === 0) {
        const take = Math.min(HEADER_LENGTH - this.headerFill, n - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < HEADER_LENGTH) return;
        this.headerFill = 0;
        const h = this.header;
        if (!this.start(((h[16] as number) << 8) | (h[17] as number), h[18] as number)) return;
        if (this.kept) this.keep(h);
      }
      const take = Math.min(this.remaining, n - i);
      if (this.kept && take > 0) this.keep(chunk.subarray(i, i + take));
      this.remaining -= take;
      i += take;
      if (this.remaining === 0 && this.headerFill === 0) this.done(i, visit);
    }
  }

  /** A header was read: true when its length is acceptable. */
  private start(length: number, type: number): boolean {
    if (length < HEADER_LENGTH || length > this.maxLength) {
      this.broken = true;
      return false;
    }
    this.type = type;
    this.remaining = length - HEADER_LENGTH;
    const skip = type === MessageType.UPDATE && length > KEPT_UPDATE_LENGTH;
    this.kept = skip ? undefined : new Uint8Array(length);
    this.keptFill = 0;
    // A header-only message (KEEPALIVE) completes at once: `push` sees remaining 0.
    return true;
  }

  private keep(bytes: Uint8Array): void {
    this.kept?.set(bytes, this.keptFill);
    this.keptFill += bytes.length;
  }

  private done(end: number, visit: MessageVisitor): void {
    const message = this.kept;
    this.kept = undefined;
    visit(this.type, end, message);
  }
}
