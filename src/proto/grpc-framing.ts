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
 * a new buffer. This reaches into grpc-js internals (build/src/...): if an upgrade renames
 * them, `installPreFraming` returns false and messages are copied as before.
 */
import * as compressionFilter from "@grpc/grpc-js/build/src/compression-filter.js";
import * as serverInterceptors from "@grpc/grpc-js/build/src/server-interceptors.js";
import * as streamDecoder from "@grpc/grpc-js/build/src/stream-decoder.js";
import { FRAME_HEADER_BYTES, frameInPlace } from "./frame-headroom.ts";

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
  if (
    typeof client?.sendMessage !== "function" ||
    typeof server?.serializeMessage !== "function" ||
    typeof decoder?.write !== "function"
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
      if (framed) return { message: framed, flags: resolved.flags };
    }
    return clientSend.call(this, resolved);
  };
  // grpc-js's serializeMessage: serialize, then copy behind a header (responses are never
  // compressed); the same without the copy when the message has headroom.
  server.serializeMessage = function (this: ServerCall, value: unknown): Buffer {
    const message = this.handler.serialize(value);
    return frameInPlace(message) ?? frameByCopy(message);
  };
  // grpc-js's StreamDecoder concatenates every received message into a new buffer, even one
  // that came whole in one HTTP/2 DATA chunk (a BGP burst's message of a few KiB): such a
  // message is handed on as a view of the chunk instead; the rest goes to grpc-js's code.
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
    if (whole === undefined) return decoderWrite.call(this, data);
    if (head === data.length) return whole;
    return whole.concat(decoderWrite.call(this, data.subarray(head)));
  };
  installed = true;
  return true;
}
