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
  CopiedChunks,
  keepForResend,
  RELEASE_CHUNK_FROM_BYTES,
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

/** `m` as gRPC frames it: flag 0, big-endian length, the bytes (a new buffer). */
function frame(m: Uint8Array): Buffer {
  const framed = Buffer.alloc(m.length + FRAME_HEADER_BYTES);
  framed.writeUInt32BE(m.length, 1);
  framed.set(m, FRAME_HEADER_BYTES);
  return framed;
}

/**
 * `count` framed messages of random sizes (every `every`-th one large: `min` + up to `span`
 * bytes, the others under 3,000) and the stream they make.
 */
function randomStream(rand: () => number, count: number, every: number, min: number, span: number) {
  const sizes = Array.from({ length: count }, (_, i) =>
    i % every === 0 ? min + Math.floor(rand() * span) : Math.floor(rand() * 3000),
  );
  const messages = sizes.map((n, i) => chunk(n, i));
  return { messages, stream: Buffer.concat(messages.map(frame)) };
}

/**
 * `stream` through a new StreamDecoder in random cuts of 1..maxCut bytes: views of the stream,
 * or (`own`) each cut copied into a buffer of its own, as Bun's DATA chunks are.
 */
function decodeInCuts(stream: Buffer, rand: () => number, maxCut: number, own: boolean) {
  const decoder = new StreamDecoder(-1);
  const out: Buffer[] = [];
  const chunks: Buffer[] = [];
  /** Each chunk's length as written (a freed chunk's is 0 afterwards). */
  const sizes: number[] = [];
  for (let pos = 0; pos < stream.length; ) {
    const n = 1 + Math.floor(rand() * maxCut);
    const cut = stream.subarray(pos, pos + n);
    const c = own ? Buffer.from(cut) : cut;
    chunks.push(c);
    sizes.push(c.length);
    out.push(...decoder.write(c));
    pos += n;
  }
  return { out, chunks, sizes };
}

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
  test("any split of a stream of messages decodes to the same messages", () => {
    installPreFraming();
    const rand = prng(7);
    const { messages, stream } = randomStream(rand, 300, 25, 40_000, 30_000);
    for (const maxCut of [1, 6, 700, 16_384, 100_000]) {
      const { out } = decodeInCuts(stream, rand, maxCut, false);
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

describe("received chunks released once grpc-js copied them (CopiedChunks)", () => {
  /** `stream` cut into chunks of `size` bytes, each its own buffer (as Bun's DATA chunks). */
  const cut = (stream: Uint8Array, size: number) => {
    const out: Buffer[] = [];
    for (let pos = 0; pos < stream.length; pos += size)
      out.push(Buffer.from(stream.subarray(pos, pos + size)));
    return out;
  };

  test("a message spread over chunks arrives intact and its chunks are freed when it completes", () => {
    installPreFraming();
    const message = chunk(6 * 16_374 - FRAME_HEADER_BYTES, 3); // six full DATA chunks
    const chunks = cut(frame(message), 16_374);
    const decoder = new StreamDecoder(-1);
    const out: Buffer[] = [];
    for (const [i, c] of chunks.entries()) {
      out.push(...decoder.write(c));
      // Until the last chunk came, every chunk is still the decoder's.
      if (i < chunks.length - 1) expect(chunks.every((k) => k.byteLength > 0)).toBe(true);
    }
    expect(out.length).toBe(1);
    expectFramed(out[0] as Buffer, message);
    expect(chunks.map((c) => c.byteLength)).toEqual(chunks.map(() => 0));
  });

  test("a chunk where the next message began is kept until that one is copied", () => {
    installPreFraming();
    const a = chunk(30_000 - FRAME_HEADER_BYTES, 1);
    const b = chunk(30_000 - FRAME_HEADER_BYTES, 2);
    const chunks = cut(Buffer.concat([frame(a), frame(b)]), 20_000);
    const decoder = new StreamDecoder(-1);
    const out = [...decoder.write(chunks[0] as Buffer), ...decoder.write(chunks[1] as Buffer)];
    expect(out.length).toBe(1);
    expect(chunks[0]?.byteLength).toBe(0);
    expect(chunks[1]?.byteLength).toBe(20_000); // b began in it
    out.push(...decoder.write(chunks[2] as Buffer));
    expect(out.length).toBe(2);
    expectFramed(out[0] as Buffer, a);
    expectFramed(out[1] as Buffer, b);
    expect(chunks.map((c) => c.byteLength)).toEqual([0, 0, 0]);
  });

  test("any split into chunks of their own decodes the same; views and small chunks are kept", () => {
    installPreFraming();
    const rand = prng(11);
    const { messages, stream } = randomStream(rand, 200, 10, 20_000, 60_000);
    for (const maxCut of [100, 5000, 16_374, 70_000]) {
      const { out, chunks, sizes } = decodeInCuts(stream, rand, maxCut, true);
      expect(out.length).toBe(messages.length);
      out.forEach((m, i) => {
        expectFramed(m, messages[i] as Uint8Array);
      });
      // The stream ended between messages: every chunk is freed but the small ones and those
      // a message was handed on from as a view.
      const viewed = new Set(out.map((m) => m.buffer));
      const freed = chunks.map((c) => c.byteLength === 0);
      const expected = chunks.map(
        (c, i) => (sizes[i] as number) >= RELEASE_CHUNK_FROM_BYTES && !viewed.has(c.buffer),
      );
      expect(freed).toEqual(expected);
      if (maxCut >= 16_374) expect(freed.some(Boolean)).toBe(true);
    }
  });

  test("the bookkeeping: only whole buffers from RELEASE_CHUNK_FROM_BYTES, the one in use kept", () => {
    const big = () => Buffer.alloc(RELEASE_CHUNK_FROM_BYTES);
    const held = new CopiedChunks();
    const small = Buffer.alloc(RELEASE_CHUNK_FROM_BYTES - 1);
    const slice = Buffer.alloc(RELEASE_CHUNK_FROM_BYTES * 2).subarray(0, RELEASE_CHUNK_FROM_BYTES);
    const [a, b, c] = [big(), big(), big()];
    held.read(small, false, true);
    held.read(slice, false, true);
    held.read(a, false, true);
    held.read(b, false, true);
    expect(held.size).toBe(2);
    held.read(c, true, true); // a message completed in c, the next began there
    expect([a.byteLength, b.byteLength, c.byteLength]).toEqual([0, 0, RELEASE_CHUNK_FROM_BYTES]);
    expect([small.byteLength, slice.byteLength]).toEqual([
      RELEASE_CHUNK_FROM_BYTES - 1,
      RELEASE_CHUNK_FROM_BYTES,
    ]);
    expect(held.size).toBe(1);
    held.read(small, true, false);
    expect(c.byteLength).toBe(0);
    expect(held.size).toBe(0);
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
