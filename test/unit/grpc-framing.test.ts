import { describe, expect, test } from "bun:test";
import { CompressionFilter } from "@grpc/grpc-js/build/src/compression-filter.js";
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { decodeDataMessage, encodeDataMessage } from "../../src/proto/codec.ts";
import {
  FRAME_HEADER_BYTES,
  frameInPlace,
  withFrameHeadroom,
} from "../../src/proto/frame-headroom.ts";
import { installPreFraming } from "../../src/proto/grpc-framing.ts";
import { DataAction } from "../../src/proto/messages.ts";

const chunk = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

/** What gRPC puts on the wire for `message`: flag 0, big-endian length, the bytes. */
function expectFramed(framed: Uint8Array, message: Uint8Array): void {
  expect(framed.length).toBe(message.length + FRAME_HEADER_BYTES);
  expect(framed[0]).toBe(0);
  expect(Buffer.from(framed).readUInt32BE(1)).toBe(message.length);
  expect(Buffer.from(framed.subarray(FRAME_HEADER_BYTES)).equals(Buffer.from(message))).toBe(true);
}

describe("Data messages framed in place", () => {
  test("an encoded Data message is framed in its own memory, header in the headroom", () => {
    for (const size of [0, 1, 100, 5000, 70_000]) {
      const encoded = encodeDataMessage({
        action: DataAction.UNSPECIFIED,
        data: [chunk(size, size)],
      });
      const copy = Buffer.from(encoded);
      const framed = frameInPlace(encoded);
      expect(framed).toBeDefined();
      if (!framed) return;
      expect(framed.buffer).toBe(encoded.buffer); // no copy
      expect(framed.byteOffset).toBe(encoded.byteOffset - FRAME_HEADER_BYTES);
      expectFramed(framed, copy);
      expect(decodeDataMessage(framed.subarray(FRAME_HEADER_BYTES)).data[0]?.length ?? 0).toBe(
        size === 0 ? 0 : size,
      );
    }
  });

  test("a buffer without headroom is left to grpc-js's copy", () => {
    expect(frameInPlace(Buffer.from([1, 2, 3]))).toBeUndefined();
    const unmarked = Buffer.alloc(64).subarray(8);
    expect(frameInPlace(unmarked)).toBeUndefined();
    expect(frameInPlace(withFrameHeadroom(Buffer.alloc(64).subarray(2)))).toBeUndefined();
  });

  test("grpc-js's client filter sends a message with headroom as is, others copied", async () => {
    expect(installPreFraming()).toBe(true);
    const filter = new CompressionFilter({}, {});
    const encoded = encodeDataMessage({ action: 0, data: [chunk(3000, 1)] });
    const copy = Buffer.from(encoded);
    const sent = await filter.sendMessage(Promise.resolve({ message: encoded, flags: 0 }));
    expect(sent.message.buffer).toBe(encoded.buffer);
    expectFramed(sent.message, copy);
    const plain = Buffer.from(copy);
    const copied = await filter.sendMessage(Promise.resolve({ message: plain, flags: 0 }));
    expect(copied.message.buffer).not.toBe(plain.buffer);
    expectFramed(copied.message, copy);
  });

  test("a client filter with a send limit below the message leaves it to grpc-js (which refuses it)", async () => {
    installPreFraming();
    const filter = new CompressionFilter({ "grpc.max_send_message_length": 100 }, {});
    const encoded = encodeDataMessage({ action: 0, data: [chunk(300, 2)] });
    await expect(filter.sendMessage(Promise.resolve({ message: encoded }))).rejects.toMatchObject({
      details: expect.stringContaining("larger than 100"),
    });
  });

  test("grpc-js's server call frames a response with headroom without a copy", () => {
    installPreFraming();
    const serialize = (m: Buffer) => m;
    const serializeMessage = (
      BaseServerInterceptingCall.prototype as unknown as {
        serializeMessage(this: unknown, value: unknown): Buffer;
      }
    ).serializeMessage;
    const encoded = encodeDataMessage({ action: DataAction.KILL, data: [chunk(900, 3)] });
    const copy = Buffer.from(encoded);
    const framed = serializeMessage.call({ handler: { serialize } }, encoded);
    expect(framed.buffer).toBe(encoded.buffer);
    expectFramed(framed, copy);
    const plain = Buffer.from(copy);
    const copied = serializeMessage.call({ handler: { serialize } }, plain);
    expect(copied.buffer).not.toBe(plain.buffer);
    expectFramed(copied, copy);
  });
});
