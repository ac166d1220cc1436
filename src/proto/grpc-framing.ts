/**
 * Data messages framed where they are encoded, without grpc-js's copy.
 *
 * grpc-js frames every message it sends (a 5-byte header: compressed flag, length) into a
 * new buffer and copies the serialized message behind it: the client in its
 * CompressionFilter (identity encoding), the server in `serializeMessage`. For the relay's
 * Data messages (one per socket read, up to 512 KiB under Bun) that is a third allocation of
 * every relayed byte, after the socket read and the protobuf encoding, and garbage the
 * engine collects late while a session's first burst fills the path
 * (DEVELOPERS.md, "Data path: slow far end memory (session 4)").
 *
 * The Data codec leaves `FRAME_HEADER_BYTES` of headroom in front of each encoded message
 * and marks it (`withFrameHeadroom`). With `installPreFraming()`, grpc-js's two framing
 * steps write the header into that headroom and send the same memory; any other message is
 * framed (copied) as before. On the receiving side, a message that arrived whole in one
 * HTTP/2 DATA chunk is passed on as a view of that chunk instead of being concatenated into
 * a new buffer, and the chunks of one that grpc-js concatenated are freed once it did
 * (CopiedChunks in frame-release.ts). Once HTTP/2 sent such a frame (the client's HTTP/2 call
 * or the server's write called back), its memory is freed at once (frame-release.ts), unless
 * grpc-js may send it again (a call that can still be retried, or a message in its retry
 * buffer). This reaches into grpc-js internals (build/src/...): if an upgrade renames them,
 * `installPreFraming` returns false and messages are copied, and left to the collector, as
 * before.
 */
import * as compressionFilter from "@grpc/grpc-js/build/src/compression-filter.js";
import * as retryingCall from "@grpc/grpc-js/build/src/retrying-call.js";
import * as serverInterceptors from "@grpc/grpc-js/build/src/server-interceptors.js";
import * as streamDecoder from "@grpc/grpc-js/build/src/stream-decoder.js";
import * as subchannelCall from "@grpc/grpc-js/build/src/subchannel-call.js";
import { FRAME_HEADER_BYTES, frameInPlace } from "./frame-headroom.ts";
import {
  CopiedChunks,
  keepForResend,
  releaseAfterWrite,
  releaseFrame,
  willRelease,
} from "./frame-release.ts";

/** grpc-js's copy: what it does for a message without headroom. */
function frameByCopy(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(message.byteLength + FRAME_HEADER_BYTES);
  framed[0] = 0;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, FRAME_HEADER_BYTES);
  return framed;
}

interface WriteObject {
  message: Buffer;
  flags?: number;
}

/** The client's CompressionFilter, as far as it is used here. */
interface ClientFilter {
  currentCompressionAlgorithm: string;
  maxSendMessageLength: number;
  sendMessage(message: Promise<WriteObject> | WriteObject): Promise<WriteObject>;
}

/** The server's call, as far as it is used here. */
interface ServerCall {
  handler: { serialize(value: unknown): Buffer };
  serializeMessage(value: unknown): Buffer;
  sendMessage(value: unknown, callback: () => void): void;
}

/** The client's retrying call (above the filters), as far as it is used here. */
interface RetryingCall {
  state: string;
  /** Messages sent or waiting; `allocated`: held in the retry buffer. */
  writeBuffer?: Array<{ allocated?: boolean }>;
  sendMessageWithContext(context: unknown, message: Buffer): void;
}

/** The client's HTTP/2 call, as far as it is used here. */
interface SubchannelCall {
  sendMessageWithContext(context: { callback?: () => void }, message: Buffer): void;
}

/** grpc-js's StreamDecoder, as far as it is used here (readState 0: between messages). */
interface Decoder {
  readState: number;
  maxReadMessageLength: number;
  write(data: Buffer): Buffer[];
}

let installed: boolean | undefined;

/**
 * Let grpc-js send messages with headroom without copying them (client and server side).
 * Idempotent; false when grpc-js's internals are not where this expects them.
 */
export function installPreFraming(): boolean {
  if (installed !== undefined) return installed;
  const client = (compressionFilter as { CompressionFilter?: { prototype: unknown } })
    .CompressionFilter?.prototype as ClientFilter | undefined;
  const server = (serverInterceptors as { BaseServerInterceptingCall?: { prototype: unknown } })
    .BaseServerInterceptingCall?.prototype as ServerCall | undefined;
  const decoder = (streamDecoder as { StreamDecoder?: { prototype: unknown } }).StreamDecoder
    ?.prototype as Decoder | undefined;
  const http2Call = (subchannelCall as { Http2SubchannelCall?: { prototype: unknown } })
    .Http2SubchannelCall?.prototype as SubchannelCall | undefined;
  const retrying = (retryingCall as { RetryingCall?: { prototype: unknown } }).RetryingCall
    ?.prototype as RetryingCall | undefined;
  if (
    typeof client?.sendMessage !== "function" ||
    typeof server?.serializeMessage !== "function" ||
    typeof server?.sendMessage !== "function" ||
    typeof decoder?.write !== "function" ||
    typeof http2Call?.sendMessageWithContext !== "function" ||
    typeof retrying?.sendMessageWithContext !== "function"
  ) {
    installed = false;
    return false;
  }
  const clientSend = client.sendMessage;
  client.sendMessage = async function (
    this: ClientFilter,
    message: Promise<WriteObject> | WriteObject,
  ): Promise<WriteObject> {
    const resolved = await message;
    if (
      this.currentCompressionAlgorithm === "identity" &&
      (this.maxSendMessageLength === -1 || resolved.message.length <= this.maxSendMessageLength)
    ) {
      const framed = frameInPlace(resolved.message);
      if (framed) return { message: releaseAfterWrite(framed), flags: resolved.flags };
    }
    return clientSend.call(this, resolved);
  };
  // A message of a call that may still be retried (not NO_RETRY, not COMMITTED to one
  // attempt: grpc-js keeps it to send it again) is kept whole, and so is one that grpc-js
  // took into its retry buffer (it reads the message's length again to free it). The
  // client's filters (above) framed and marked it already; this unmarks it.
  const retryingSend = retrying.sendMessageWithContext;
  retrying.sendMessageWithContext = function (
    this: RetryingCall,
    context: unknown,
    message: Buffer,
  ): void {
    const mayResend = this.state !== "NO_RETRY" && this.state !== "COMMITTED";
    if (mayResend) keepForResend(message);
    retryingSend.call(this, context, message);
    if (!mayResend && this.writeBuffer?.[this.writeBuffer.length - 1]?.allocated) {
      keepForResend(message);
    }
  };
  // The client's HTTP/2 write: a frame of ours is released once the stream is done with it
  // (Bun calls a stream write back when the bytes went out, not when they were queued).
  const http2Send = http2Call.sendMessageWithContext;
  http2Call.sendMessageWithContext = function (
    this: SubchannelCall,
    context: { callback?: () => void },
    message: Buffer,
  ): void {
    if (!willRelease(message)) {
      http2Send.call(this, context, message);
      return;
    }
    const callback = context.callback;
    const releasing = {
      ...context,
      callback: () => {
        releaseFrame(message);
        callback?.();
      },
    };
    http2Send.call(this, releasing, message);
  };
  // grpc-js's serializeMessage: serialize, then copy behind a header (responses are never
  // compressed); the same without the copy when the message has headroom.
  let serialized: Buffer | undefined;
  server.serializeMessage = function (this: ServerCall, value: unknown): Buffer {
    const message = this.handler.serialize(value);
    const framed = frameInPlace(message);
    if (framed === undefined) return frameByCopy(message);
    serialized = releaseAfterWrite(framed);
    return framed;
  };
  // The server's write: sendMessage serializes (above) and writes at once; its callback runs
  // once the stream is done with the frame, which is then released.
  const serverSend = server.sendMessage;
  server.sendMessage = function (this: ServerCall, value: unknown, callback: () => void): void {
    serialized = undefined;
    let frame: Buffer | undefined;
    serverSend.call(this, value, () => {
      if (frame !== undefined) releaseFrame(frame);
      callback();
    });
    frame = serialized;
    serialized = undefined;
  };
  // grpc-js's StreamDecoder concatenates every received message into a new buffer, even one
  // that came whole in one HTTP/2 DATA chunk (a BGP burst's message of a few KiB): such a
  // message is handed on as a view of the chunk instead; the rest goes to grpc-js's code,
  // and the chunks it copied a message out of are released once it did (CopiedChunks).
  const decoderWrite = decoder.write;
  decoder.write = function (this: Decoder, data: Buffer): Buffer[] {
    let head = 0;
    // Allocated at the first whole message: a chunk in the middle of one needs no array.
    let whole: Buffer[] | undefined;
    while (this.readState === 0 && data.length - head >= FRAME_HEADER_BYTES) {
      const size = data.readUInt32BE(head + 1);
      const end = head + FRAME_HEADER_BYTES + size;
      if (end > data.length) break;
      if (this.maxReadMessageLength !== -1 && size > this.maxReadMessageLength) break;
      whole ??= [];
      whole.push(data.subarray(head, end));
      head = end;
    }
    if (whole === undefined) {
      const messages = decoderWrite.call(this, data);
      copiedChunksOf(this).read(data, messages.length > 0, this.readState !== 0);
      return messages;
    }
    if (head === data.length) return whole;
    return whole.concat(decoderWrite.call(this, data.subarray(head)));
  };
  installed = true;
  return true;
}

/** The chunks each decoder read into messages it copies (frame-release.ts). */
const copiedChunks = new WeakMap<Decoder, CopiedChunks>();

function copiedChunksOf(decoder: Decoder): CopiedChunks {
  let chunks = copiedChunks.get(decoder);
  if (chunks === undefined) {
    chunks = new CopiedChunks();
    copiedChunks.set(decoder, chunks);
  }
  return chunks;
}
