import {
  ErrorCode,
  HEADER_LENGTH,
  HeaderErrorSubcode,
  MARKER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  MIN_MESSAGE_LENGTH,
  messageTypeName,
} from "./constants.ts";
import { BgpNotificationError, uint16Data } from "./notification-error.ts";

/** One whole BGP message cut out of the byte stream. */
export interface BgpFrame {
  /** Message type (1..5). */
  readonly type: MessageType;
  /** The whole message, header included. */
  readonly message: Uint8Array;
  /** The message after its 19-octet header. */
  readonly body: Uint8Array;
}

export interface FramerOptions {
  /** Largest accepted message; 4096 unless RFC 8654 extended messages were negotiated. */
  maxMessageLength?: number;
}

/**
 * Splits a TCP byte stream into whole BGP messages and checks each header (RFC 4271
 * §6.1): marker, length within 19..max, known type, per-type minimum length. A header
 * error throws a BgpNotificationError as soon as the 19 header octets are in; after
 * that the framer stays failed and every later `push` throws the same error. When a
 * chunk completes good messages before the bad header, `push` returns those first,
 * sets `error`, and throws on the next call.
 *
 * Chunks are kept as a list; a message is copied only when it straddles chunks,
 * otherwise the returned frame is a view into the pushed chunk (so callers must not
 * reuse a chunk's memory after pushing it).
 */
export class BgpFramer {
  private chunks: Uint8Array[] = [];
  private head = 0; // index of the first live chunk
  private offset = 0; // read position inside chunks[head]
  private total = 0; // bytes buffered
  private maxLength: number;
  private failure: BgpNotificationError | undefined;

  constructor(options: FramerOptions = {}) {
    this.maxLength = options.maxMessageLength ?? MAX_MESSAGE_LENGTH;
  }

  /** Bytes received but not yet returned as whole messages. */
  get buffered(): number {
    return this.total;
  }

  /** The error that stopped this framer, if any. */
  get error(): BgpNotificationError | undefined {
    return this.failure;
  }

  /** Raise or lower the size limit, e.g. to 65535 after RFC 8654 negotiation. */
  setMaxMessageLength(max: number): void {
    this.maxLength = max;
  }

  /** Add received bytes; returns the messages completed by them, in order. */
  push(chunk: Uint8Array): BgpFrame[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const frames: BgpFrame[] = [];
    try {
      while (this.total >= HEADER_LENGTH) {
        const length = this.checkHeader();
        if (this.total < length) break;
        frames.push(this.take(length));
      }
    } catch (err) {
      if (!(err instanceof BgpNotificationError)) throw err;
      this.failure = err;
      // Messages completed before the bad header are still delivered; the error is
      // then thrown by the next push (and is readable as `error` right away).
      if (frames.length === 0) throw err;
    }
    if (this.offset > 0) this.compact();
    return frames;
  }

  /**
   * Copy the tail of a partly consumed chunk (at most one message) so the chunk's
   * memory, which may be a large receive buffer, is not kept alive by a few octets.
   */
  private compact(): void {
    const rest = new Uint8Array(this.total);
    let at = 0;
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i] as Uint8Array;
      const part = i === this.head ? c.subarray(this.offset) : c;
      rest.set(part, at);
      at += part.length;
    }
    this.chunks = [rest];
    this.head = 0;
    this.offset = 0;
  }

  /** Octet `i` of the buffered stream (i < total). */
  private peek(i: number): number {
    let idx = this.head;
    let pos = this.offset + i;
    for (;;) {
      const c = this.chunks[idx] as Uint8Array;
      if (pos < c.length) return c[pos] as number;
      pos -= c.length;
      idx++;
    }
  }

  /** Validate the buffered header; returns the message length. */
  private checkHeader(): number {
    const first = this.chunks[this.head] as Uint8Array;
    // The common case, a header inside one chunk, reads it without a closure per message.
    const contiguous = first.length - this.offset >= HEADER_LENGTH;
    const base = this.offset;
    for (let i = 0; i < MARKER_LENGTH; i++) {
      const octet = contiguous ? first[base + i] : this.peek(i);
      if (octet !== 0xff) {
        throw new BgpNotificationError(
          ErrorCode.MESSAGE_HEADER,
          HeaderErrorSubcode.CONNECTION_NOT_SYNCHRONIZED,
          "marker is not all ones",
        );
      }
    }
    const hi = (contiguous ? first[base + 16] : this.peek(16)) as number;
    const lo = (contiguous ? first[base + 17] : this.peek(17)) as number;
    const type = (contiguous ? first[base + 18] : this.peek(18)) as number;
    const length = (hi << 8) | lo;
    if (length < HEADER_LENGTH || length > this.maxLength) {
      throw badLength(
        length,
        `message length ${length} outside ${HEADER_LENGTH}..${this.maxLength}`,
      );
    }
    const min = MIN_MESSAGE_LENGTH[type as MessageType];
    if (min === undefined) {
      throw new BgpNotificationError(
        ErrorCode.MESSAGE_HEADER,
        HeaderErrorSubcode.BAD_MESSAGE_TYPE,
        `unknown message type ${type}`,
        Uint8Array.of(type),
      );
    }
    if (length < min) {
      throw badLength(length, `${messageTypeName(type)} of ${length} octets, minimum ${min}`);
    }
    if (type === MessageType.KEEPALIVE && length !== HEADER_LENGTH) {
      throw badLength(length, `KEEPALIVE of ${length} octets, must be ${HEADER_LENGTH}`);
    }
    if (type === MessageType.OPEN && length > MAX_MESSAGE_LENGTH) {
      throw badLength(length, `OPEN of ${length} octets exceeds ${MAX_MESSAGE_LENGTH}`);
    }
    return length;
  }

  /** Remove `length` buffered bytes and return them as a frame. */
  private take(length: number): BgpFrame {
    const first = this.chunks[this.head] as Uint8Array;
    let message: Uint8Array;
    if (first.length - this.offset >= length) {
      message = first.subarray(this.offset, this.offset + length);
      this.offset += length;
      if (this.offset === first.length) this.dropHead();
    } else {
      message = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const c = this.chunks[this.head] as Uint8Array;
        const n = Math.min(c.length - this.offset, length - filled);
        message.set(c.subarray(this.offset, this.offset + n), filled);
        filled += n;
        this.offset += n;
        if (this.offset === c.length) this.dropHead();
      }
    }
    this.total -= length;
    return {
      type: message[18] as MessageType,
      message,
      body: message.subarray(HEADER_LENGTH),
    };
  }

  private dropHead(): void {
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

function badLength(length: number, detail: string): BgpNotificationError {
  return new BgpNotificationError(
    ErrorCode.MESSAGE_HEADER,
    HeaderErrorSubcode.BAD_MESSAGE_LENGTH,
    detail,
    uint16Data(length),
  );
}
