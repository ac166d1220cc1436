import { describe, expect, test } from "bun:test";
import { CompressionFilter } from "@grpc/grpc-js/build/src/compression-filter.js";
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder.js";
import { decodeDataMessage, encodeDataMessage } from "../../src/proto/codec.ts";
import {
  FRAME_HEADER_BYTES,
  frameInPlace,
  withFrameHeadroom,
} from "../../src/proto/frame-headroom.ts";
import {
  keepForResend,
  RELEASE_FROM_BYTES,
  releaseAfterWrite,
  releaseFrame,
  willRelease,
} from "../../src/proto/frame-release.ts";
import { installPreFraming } from "../../src/proto/grpc-framing.ts";
import { DataAction } from "../../src/proto/messages.ts";
import { prng } from "../support/prng.ts";

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

describe("grpc-js's StreamDecoder with whole messages passed on as views", () => {
  const frame = (m: Uint8Array) => {
    const framed = Buffer.alloc(m.length + FRAME_HEADER_BYTES);
    framed.writeUInt32BE(m.length, 1);
    framed.set(m, FRAME_HEADER_BYTES);
    return framed;
  };

  test("any split of a stream of messages decodes to the same messages", () => {
    installPreFraming();
    const rand = prng(7);
    const sizes = Array.from({ length: 300 }, (_, i) =>
      i % 25 === 0 ? 40_000 + Math.floor(rand() * 30_000) : Math.floor(rand() * 3000),
    );
    const messages = sizes.map((n, i) => chunk(n, i));
    const stream = Buffer.concat(messages.map(frame));
    for (const maxCut of [1, 6, 700, 16_384, 100_000]) {
      const decoder = new StreamDecoder(-1);
      const out: Buffer[] = [];
      for (let pos = 0; pos < stream.length; ) {
        const n = 1 + Math.floor(rand() * maxCut);
        out.push(...decoder.write(stream.subarray(pos, pos + n)));
        pos += n;
      }
      expect(out.length).toBe(messages.length);
      out.forEach((m, i) => {
        expectFramed(m, messages[i] as Uint8Array);
      });
    }
  });

  test("a message whole in its chunk is a view of it; the size limit still holds", () => {
    installPreFraming();
    const data = Buffer.concat([frame(chunk(50, 1)), frame(chunk(0, 2)), frame(chunk(80, 3))]);
    const out = new StreamDecoder(100).write(data);
    expect(out.map((m) => m.length)).toEqual([55, 5, 85]);
    for (const m of out) expect(m.buffer).toBe(data.buffer);
    expect(() => new StreamDecoder(100).write(frame(chunk(200, 4)))).toThrow("larger than max");
  });
});

describe("frames released after their write (frame-release.ts)", () => {
  const frameOf = (size: number) => {
    const framed = frameInPlace(encodeDataMessage({ action: 0, data: [chunk(size, 3)] }));
    if (!framed) throw new Error("no headroom");
    return framed;
  };

  test("a frame that is its whole buffer, from RELEASE_FROM_BYTES, is released: its memory is gone", () => {
    const framed = releaseAfterWrite(frameOf(RELEASE_FROM_BYTES));
    expect(willRelease(framed)).toBe(true);
    const length = framed.byteLength;
    expect(length).toBeGreaterThan(RELEASE_FROM_BYTES);
    releaseFrame(framed);
    expect(framed.buffer.byteLength).toBe(0);
    expect(framed.byteLength).toBe(0);
    expect(willRelease(framed)).toBe(false);
    releaseFrame(framed); // a second release does nothing
  });

  test("small frames, views into a larger buffer and unmarked buffers are never touched", () => {
    const small = releaseAfterWrite(frameOf(RELEASE_FROM_BYTES - 100));
    expect(willRelease(small)).toBe(false);
    releaseFrame(small);
    expect(small.byteLength).toBeGreaterThan(0);
    const big = Buffer.alloc(4 * RELEASE_FROM_BYTES);
    const view = releaseAfterWrite(big.subarray(8));
    expect(willRelease(view)).toBe(false);
    releaseFrame(view);
    expect(big.byteLength).toBe(4 * RELEASE_FROM_BYTES);
    const unmarked = frameOf(2 * RELEASE_FROM_BYTES);
    releaseFrame(unmarked);
    expect(unmarked.byteLength).toBeGreaterThan(0);
  });

  test("a frame kept for a resend (after the client's filter marked it) is not released", () => {
    const kept = releaseAfterWrite(frameOf(2 * RELEASE_FROM_BYTES));
    keepForResend(kept);
    expect(willRelease(kept)).toBe(false);
    releaseFrame(kept);
    expect(kept.byteLength).toBeGreaterThan(0);
  });
});
