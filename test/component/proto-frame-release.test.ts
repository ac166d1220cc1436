/**
 * Relayed Data messages give their memory back as soon as HTTP/2 has sent them
 * (src/proto/frame-release.ts), over a real grpc-js client and server on loopback: the bytes
 * arrive intact and in order while the far side reads late (so writes wait for flow control),
 * the encoded buffer is already empty when its write calls back on the agent's channel (its
 * options from the gateway dialer: no retries, no retry buffer, so a write calls back only
 * once HTTP/2 sent it) and on the server (the gateway's replies), and is left whole on a
 * channel that may retry, where grpc-js could send it again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { channelOptions } from "../../src/agent/gateway-dialer.ts";
import { parseAgentConfig } from "../../src/config/agent-config.ts";
import { encodeDataMessage } from "../../src/proto/codec.ts";
import { RELEASE_FROM_BYTES } from "../../src/proto/frame-release.ts";
import { DataAction, type DataMessage } from "../../src/proto/messages.ts";
import { proxyServiceDefinition } from "../../src/proto/service.ts";
import { bindLoopback } from "../support/grpc-loopback.ts";
import { prng } from "../support/prng.ts";
import { within as settlesWithin } from "../support/wait.ts";

const WAIT_MS = 10_000;
const MESSAGES = 12;
/** Larger than the default HTTP/2 stream window (64 KiB): each write waits for the reader. */
const MESSAGE_BYTES = 256 * 1024;
/** How long each side leaves a new stream unread. */
const READ_LATE_MS = 300;

/** The encoded buffers one side's serializer made, in order. */
const encodedByClient: Buffer[] = [];
const encodedByServer: Buffer[] = [];

/** The Data method as the service defines it, with serializers that keep what they made. */
const dataMethod = proxyServiceDefinition.data as grpc.MethodDefinition<DataMessage, DataMessage>;
const recordingDefinition = (sink: Buffer[], side: "request" | "response") => ({
  data: {
    ...dataMethod,
    [side === "request" ? "requestSerialize" : "responseSerialize"]: (m: DataMessage) => {
      const encoded = encodeDataMessage(m);
      sink.push(encoded);
      return encoded;
    },
  },
});

interface DataClient extends grpc.Client {
  data(metadata: grpc.Metadata): grpc.ClientDuplexStream<DataMessage, DataMessage>;
}
const DataClientConstructor = grpc.makeGenericClientConstructor(
  recordingDefinition(encodedByClient, "request"),
  "ProxyService",
) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ChannelOptions>,
) => DataClient;

function payloads(seed: number): Buffer[] {
  const random = prng(seed);
  return Array.from({ length: MESSAGES }, () => {
    const b = Buffer.allocUnsafe(MESSAGE_BYTES);
    for (let i = 0; i < b.length; i++) b[i] = (random() * 256) & 0xff;
    return b;
  });
}

/** `promise`, or a rejection naming `what` after WAIT_MS. */
const within = <T>(promise: Promise<T>, what: string) => settlesWithin(promise, WAIT_MS, what);

/** Read a stream's Data messages late (paused at first), copying them, until it ends. */
function readLate(
  stream:
    | grpc.ClientDuplexStream<DataMessage, DataMessage>
    | grpc.ServerDuplexStream<DataMessage, DataMessage>,
): Promise<DataMessage[]> {
  const messages: DataMessage[] = [];
  stream.pause();
  setTimeout(() => stream.resume(), READ_LATE_MS);
  return new Promise((resolve, reject) => {
    stream.on("data", (m: DataMessage) => {
      messages.push({ action: m.action, data: m.data.map((c) => Buffer.from(c)) });
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(messages));
  });
}

/** The bytes of `messages` with `action`, in order. */
const bytesOf = (messages: DataMessage[], action = DataAction.UNSPECIFIED) =>
  Buffer.concat(messages.filter((m) => m.action === action).flatMap((m) => m.data));

/**
 * Write `messages` one at a time, each after the previous one's callback, and tell for each
 * whether the buffer its serializer made was already empty (released) in its callback.
 */
async function writeEach(
  write: (m: DataMessage, callback: () => void) => void,
  messages: Buffer[],
  encoded: Buffer[],
): Promise<boolean[]> {
  const released: boolean[] = [];
  for (const data of messages) {
    const index = encoded.length;
    await within(
      new Promise<void>((resolve) =>
        write({ action: DataAction.UNSPECIFIED, data: [data] }, () => {
          // grpc-js calls back on the next tick after the HTTP/2 write's callback.
          released.push((encoded[index]?.buffer.byteLength ?? -1) === 0);
          resolve();
        }),
      ),
      "a write's callback",
    );
  }
  return released;
}

let server: grpc.Server;
let address = "";
/** What the server received on each stream, by the first byte of its metadata "case". */
const received = new Map<string, Promise<Buffer>>();

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(recordingDefinition(encodedByServer, "response"), {
    data(call: grpc.ServerDuplexStream<DataMessage, DataMessage>) {
      const which = String(call.metadata.get("case")[0] ?? "");
      // Headers at once: a client that may retry commits the call to this attempt.
      if (which === "committed") call.sendMetadata(new grpc.Metadata());
      if (which !== "reply") {
        received.set(
          which,
          readLate(call).then((messages) => {
            const bytes = bytesOf(messages);
            call.end();
            return bytes;
          }),
        );
        return;
      }
      // "reply": send MESSAGES to the client, then tell which frames were released in time.
      call.on("data", () => {});
      void writeEach((m, cb) => call.write(m, cb), payloads(3), encodedByServer).then(
        (released) => {
          const flags = Buffer.from(released.map((r) => (r ? 1 : 0)));
          call.write({ action: DataAction.KILL, data: [flags] });
          call.end();
        },
      );
    },
  });
  const port = await bindLoopback(server);
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server?.forceShutdown();
});

async function sendFromClient(which: string, options: Partial<grpc.ChannelOptions>) {
  const client = new DataClientConstructor(address, grpc.credentials.createInsecure(), options);
  try {
    const metadata = new grpc.Metadata();
    metadata.set("case", which);
    const call = client.data(metadata);
    call.on("data", () => {});
    const sent = payloads(which.length);
    const first = encodedByClient.length;
    const released = await writeEach((m, cb) => call.write(m, cb), sent, encodedByClient);
    call.end();
    await within(new Promise((resolve) => call.on("status", resolve)), "status");
    const got = await within(
      received.get(which) ?? Promise.reject(new Error("no stream")),
      "server's bytes",
    );
    const keptWhole = encodedByClient.slice(first).every((b) => b.buffer.byteLength > 0);
    return { released, keptWhole, intact: got.equals(Buffer.concat(sent)), bytes: got.length };
  } finally {
    client.close();
  }
}

describe("Data frames released once sent", () => {
  test("the threshold is below the messages used here", () => {
    expect(MESSAGE_BYTES).toBeGreaterThan(RELEASE_FROM_BYTES);
  });

  test("the agent's channel: each write calls back once sent, its frame already released; the bytes arrive intact", async () => {
    const agent = parseAgentConfig([`--target=${address}`, "--insecure"], {
      KENTIK_API_EMAIL: "ops@example.net",
      KENTIK_API_TOKEN: "t",
    });
    const r = await sendFromClient("agent", channelOptions(agent));
    expect(r.bytes).toBe(MESSAGES * MESSAGE_BYTES);
    expect(r.intact).toBe(true);
    expect(r.released).toEqual(Array(MESSAGES).fill(true));
  });

  test("a channel that may retry: frames are kept whole (grpc-js may send them again)", async () => {
    // The server sends no headers on this stream before it ends, and the retry buffer holds
    // all that is sent: grpc-js never commits the call to its one attempt (it would once the
    // buffer is full) and could retry it transparently all along.
    const r = await sendFromClient("may-retry", {
      "grpc.per_rpc_retry_buffer_size": 2 * MESSAGES * MESSAGE_BYTES,
    });
    expect(r.bytes).toBe(MESSAGES * MESSAGE_BYTES);
    expect(r.intact).toBe(true);
    expect(r.released).toEqual(Array(MESSAGES).fill(false));
    expect(r.keptWhole).toBe(true);
  });

  test("a channel that may retry, once the call is committed: the bytes arrive intact", async () => {
    // grpc-js now sends each message to the one attempt, but still takes it into its retry
    // buffer while that has room (and reads its length again to free it): those frames are
    // kept, the others released once sent. Either way nothing sent may be a released frame.
    const r = await sendFromClient("committed", {});
    expect(r.bytes).toBe(MESSAGES * MESSAGE_BYTES);
    expect(r.intact).toBe(true);
  });

  test("server (the gateway's replies): each frame is released at its callback, the client gets the bytes intact", async () => {
    const client = new DataClientConstructor(address, grpc.credentials.createInsecure());
    try {
      const metadata = new grpc.Metadata();
      metadata.set("case", "reply");
      const call = client.data(metadata);
      const replies = readLate(call);
      call.write({ action: DataAction.UNSPECIFIED, data: [Buffer.from("go")] });
      call.end();
      const messages = await within(replies, "the server's replies");
      expect(bytesOf(messages).equals(Buffer.concat(payloads(3)))).toBe(true);
      expect([...bytesOf(messages, DataAction.KILL)]).toEqual(Array(MESSAGES).fill(1));
    } finally {
      client.close();
    }
  });
});
