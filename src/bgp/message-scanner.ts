import { ErrorCode, HEADER_LENGTH, HeaderErrorSubcode } from "./constants.ts";
import { BgpNotificationError } from "./notification-error.ts";

/**
 * Finds whole BGP messages in a byte stream for a bystander (the gateway's observer of a
 * forwarded session), without allocating: each message is handed to the visitor as
 * (type, buffer, body start, end) inside the pushed chunk. Only a message split across
 * chunks is copied, into a carry buffer reused from one to the next. Unlike BgpFramer it
 * checks only the marker and the length field (19..65535): the speakers at both ends
 * validate the rest. A bad header throws a BgpNotificationError; the scanner is then of no
 * further use.
 */
export type MessageVisitor = (type: number, buf: Uint8Array, start: number, end: number) => void;

const MAX_LENGTH = 65535;

function badLength(length: number): BgpNotificationError {
  return new BgpNotificationError(
    ErrorCode.MESSAGE_HEADER,
    HeaderErrorSubcode.BAD_MESSAGE_LENGTH,
    `message length ${length} outside ${HEADER_LENGTH}..${MAX_LENGTH}`,
  );
}

function badMarker(): BgpNotificationError {
  return new BgpNotificationError(
    ErrorCode.MESSAGE_HEADER,
    HeaderErrorSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "marker is not all ones",
  );
}

/** Whether buf[at, at + 16) is all ones. */
function markerOk(buf: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 16; i++) if (buf[i] !== 0xff) return false;
  return true;
}

export class BgpMessageScanner {
  private carry = new Uint8Array(4096);
  /** Bytes of a split message held in `carry`. */
  private carried = 0;

  push(chunk: Uint8Array, visit: MessageVisitor): void {
    let pos = 0;
    if (this.carried > 0) {
      pos = this.complete(chunk, visit);
      if (this.carried > 0) return;
    }
    const size = chunk.length;
    while (pos + HEADER_LENGTH <= size) {
      if (!markerOk(chunk, pos)) throw badMarker();
      const length = ((chunk[pos + 16] as number) << 8) | (chunk[pos + 17] as number);
      if (length < HEADER_LENGTH) throw badLength(length);
      if (pos + length > size) break;
      visit(chunk[pos + 18] as number, chunk, pos + HEADER_LENGTH, pos + length);
      pos += length;
    }
    if (pos < size) this.keep(chunk, pos, size);
  }

  /** Add to the split message from `chunk`; returns where the rest of `chunk` starts. */
  private complete(chunk: Uint8Array, visit: MessageVisitor): number {
    let pos = 0;
    if (this.carried < HEADER_LENGTH) {
      const n = Math.min(HEADER_LENGTH - this.carried, chunk.length);
      this.carry.set(chunk.subarray(0, n), this.carried);
      this.carried += n;
      pos = n;
      if (this.carried < HEADER_LENGTH) return pos;
    }
    if (!markerOk(this.carry, 0)) throw badMarker();
    const length = ((this.carry[16] as number) << 8) | (this.carry[17] as number);
    if (length < HEADER_LENGTH) throw badLength(length);
    if (this.carry.length < length) {
      const bigger = new Uint8Array(MAX_LENGTH);
      bigger.set(this.carry.subarray(0, this.carried));
      this.carry = bigger;
    }
    const n = Math.min(length - this.carried, chunk.length - pos);
    this.carry.set(chunk.subarray(pos, pos + n), this.carried);
    this.carried += n;
    pos += n;
    if (this.carried === length) {
      this.carried = 0;
      visit(this.carry[18] as number, this.carry, HEADER_LENGTH, length);
    }
    return pos;
  }

  private keep(chunk: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.carry.length < n) this.carry = new Uint8Array(MAX_LENGTH);
    this.carry.set(chunk.subarray(from, to), 0);
    this.carried = n;
  }
}
