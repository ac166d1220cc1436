/**
 * Room for gRPC's frame header in front of an encoded message: the Data codec allocates it
 * with the message, and grpc-framing.ts lets grpc-js write the header there instead of
 * copying the message into a new framed buffer. Pure: no grpc-js, no I/O.
 */
/** gRPC's length prefix: one byte "compressed" flag, four bytes big-endian length. */
export const FRAME_HEADER_BYTES = 5;

/** Encoded messages that have FRAME_HEADER_BYTES of their own memory right in front. */
const withHeadroom = new WeakSet<Uint8Array>();

/**
 * Mark `message` as having FRAME_HEADER_BYTES of free memory of its own right before it (in
 * the same ArrayBuffer, allocated with it), for its frame header. Returns `message`.
 */
export function withFrameHeadroom(message: Buffer): Buffer {
  if (message.byteOffset >= FRAME_HEADER_BYTES) withHeadroom.add(message);
  return message;
}

/**
 * The framed (uncompressed) message in the memory of `message`, its header written into the
 * headroom; undefined for a message without headroom.
 */
export function frameInPlace(message: Uint8Array): Buffer | undefined {
  if (!withHeadroom.has(message)) return undefined;
  const framed = Buffer.from(
    message.buffer,
    message.byteOffset - FRAME_HEADER_BYTES,
    message.byteLength + FRAME_HEADER_BYTES,
  );
  framed[0] = 0;
  framed.writeUInt32BE(message.byteLength, 1);
  return framed;
}
