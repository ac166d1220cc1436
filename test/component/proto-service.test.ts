/**
 * ProxyService over a real grpc-js server and client on loopback, with the hand-written codec
 * as the only serializer: bytes and metadata arrive intact, in order, both ways.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { encodeDataMessage } from "../../src/proto/codec.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
  DataAction,
  type DataMessage,
} from "../../src/proto/messages.ts";
import {
  fiveTupleToMetadataPairs,
  MetadataKey,
  readMetadataString,
} from "../../src/proto/metadata.ts";
import {
  DATA_METHOD_PATH,
  type ProxyClient,
  ProxyServiceClient,
  type ProxyServiceServer,
  proxyServiceDefinition,
} from "../../src/proto/service.ts";
import { bindLoopback } from "../support/grpc-loopback.ts";
import { prng } from "../support/prng.ts";
import { within } from "../support/wait.ts";

const WAIT_MS = 10_000;

/** What the server saw, for assertions. */
const seen = {
  dataMessages: [] as DataMessage[],
  dataMetadata: [] as grpc.Metadata[],
  controlMetadata: [] as grpc.Metadata[],
  controlRequests: [] as ControlRequest[],
};

function responseFor(req: ControlRequest): ControlResponse {
  return {
    ...req,
    ttlSeconds: 60,
    ttlCounter: 3,
    action: ControlAction.UNSPECIFIED,
    metadata: [
      { key: "backend-pin", val: ["gw-1"] },
      { key: "none", val: [] },
      { key: "three", val: ["a", "", "ü"] },
    ],
    companyId: 42,
    deviceId: 0xffffffff,
    deviceName: `router ${req.deviceIp}`,
    tcpMd5: new Uint8Array([0x00, 0x73, 0x00, 0xff]),
  };
}

const implementation: ProxyServiceServer = {
  control(call) {
    seen.controlMetadata.push(call.metadata);
    call.on("data", (req: ControlRequest) => {
      seen.controlRequests.push(req);
      call.write(responseFor(req));
    });
    call.on("end", () => call.end());
  },
  data(call) {
    seen.dataMetadata.push(call.metadata);
    const headers = new grpc.Metadata();
    headers.set(MetadataKey.COUNTER_UP, "0");
    headers.set(MetadataKey.COUNTER_DOWN, "0");
    call.sendMetadata(headers);
    call.on("data", (msg: DataMessage) => {
      // Chunks are views of grpc-js's message buffer: copy what is kept past this callback.
      seen.dataMessages.push({ action: msg.action, data: msg.data.map((c) => Buffer.from(c)) });
      call.write(msg);
    });
    call.on("end", () => call.end());
  },
};

let server: grpc.Server;
let client: ProxyClient;
let address: string;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(proxyServiceDefinition, implementation);
  const port = await bindLoopback(server);
  address = `127.0.0.1:${port}`;
  client = new ProxyServiceClient(address, grpc.credentials.createInsecure());
});

afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

/** Collect a duplex call's messages until it ends; reject on error or timeout. */
function collect<T>(call: grpc.ClientDuplexStream<never, T>) {
  const messages: T[] = [];
  let headers: grpc.Metadata | undefined;
  call.on("metadata", (md: grpc.Metadata) => {
    headers = md;
  });
  const done = new Promise<{ messages: T[]; headers: grpc.Metadata | undefined }>(
    (resolve, reject) => {
      call.on("data", (m: T) => messages.push(m));
      call.on("error", reject);
      call.on("end", () => resolve({ messages, headers }));
    },
  );
  return within(done, WAIT_MS, "call to end");
}

/** Write `messages` in order, waiting for 'drain' when grpc-js asks us to, then half-close. */
async function writeAll<T>(call: grpc.ClientWritableStream<T>, messages: T[]): Promise<void> {
  for (const m of messages) {
    if (!call.write(m)) {
      await within(new Promise((resolve) => call.once("drain", resolve)), WAIT_MS, "drain");
    }
  }
  call.end();
}

describe("ProxyService over grpc-js on loopback", () => {
  test("Data: 200 multi-chunk messages echo back identical and in order", async () => {
    const rand = prng(7);
    const sent: DataMessage[] = [];
    for (let i = 0; i < 200; i++) {
      const count = 1 + Math.floor(rand() * 4);
      const data: Uint8Array[] = [];
      for (let j = 0; j < count; j++) {
        const chunk = new Uint8Array(Math.floor(rand() * 64 * 1024));
        for (let k = 0; k < chunk.length; k++) chunk[k] = (rand() * 256) >>> 0;
        data.push(chunk);
      }
      sent.push({ action: DataAction.UNSPECIFIED, data });
    }
    sent.push({ action: DataAction.RESTART, data: [] });

    const sessionId = randomUUID();
    const metadata = new grpc.Metadata();
    metadata.set(MetadataKey.SESSION_ID, sessionId);
    const tuple = {
      proto: "BGP",
      deviceIp: "192.0.2.7",
      devicePort: 40179,
      proxyIp: "127.0.0.1",
      proxyPort: 179,
    };
    for (const [key, value] of fiveTupleToMetadataPairs(tuple)) metadata.set(key, value);

    const before = seen.dataMessages.length;
    const call = client.data(metadata);
    const result = collect(call);
    await writeAll(call, sent);
    const { messages, headers } = await result;

    const wire = (msgs: DataMessage[]) => msgs.map((m) => encodeDataMessage(m).toString("base64"));
    expect(seen.dataMessages.length - before).toBe(sent.length);
    expect(wire(seen.dataMessages.slice(before))).toEqual(wire(sent));
    expect(messages.length).toBe(sent.length);
    expect(wire(messages)).toEqual(wire(sent));
    expect(messages.at(-1)?.action).toBe(DataAction.RESTART);

    const serverSaw = seen.dataMetadata.at(-1) as grpc.Metadata;
    expect(readMetadataString(serverSaw, MetadataKey.SESSION_ID)).toBe(sessionId);
    expect(readMetadataString(serverSaw, MetadataKey.DEVICE_IP)).toBe("192.0.2.7");
    expect(readMetadataString(serverSaw, MetadataKey.DEVICE_PORT)).toBe("40179");
    expect(readMetadataString(serverSaw, MetadataKey.PROXY_PORT)).toBe("179");
    expect(readMetadataString(serverSaw, "absent")).toBeUndefined();
    expect(headers && readMetadataString(headers, MetadataKey.COUNTER_UP)).toBe("0");
  }, 30_000);

  test("Control: a request round-trips to a ControlResponse with metadata", async () => {
    const metadata = new grpc.Metadata();
    metadata.set(MetadataKey.AUTH_EMAIL, "ops@example.net");
    metadata.set(MetadataKey.AUTH_API_TOKEN, "not-a-real-token");
    metadata.set(MetadataKey.INSTANCE, randomUUID());
    const request: ControlRequest = {
      proto: "BGP",
      deviceIp: "2001:db8::7",
      devicePort: 51000,
      proxyIp: "2001:db8::1",
      proxyPort: 179,
      action: ControlAction.UNSPECIFIED,
    };
    const call = client.control(metadata);
    const result = collect(call);
    await writeAll(call, [request, { ...request, action: ControlAction.KEEPALIVE }]);
    const { messages } = await result;

    expect(seen.controlRequests.slice(-2)).toEqual([
      request,
      { ...request, action: ControlAction.KEEPALIVE },
    ]);
    expect(messages.length).toBe(2);
    const got = messages[0] as ControlResponse;
    const want = responseFor(request);
    expect({ ...got, tcpMd5: [...got.tcpMd5] }).toEqual({ ...want, tcpMd5: [...want.tcpMd5] });
    const serverSaw = seen.controlMetadata.at(-1) as grpc.Metadata;
    expect(readMetadataString(serverSaw, MetadataKey.AUTH_EMAIL)).toBe("ops@example.net");
    expect(readMetadataString(serverSaw, MetadataKey.AUTH_API_TOKEN)).toBe("not-a-real-token");
  });

  test("a malformed message ends the call with an error status, not a crash", async () => {
    const raw = client.makeBidiStreamRequest(
      DATA_METHOD_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      new grpc.Metadata(),
    );
    const outcome = within(
      new Promise<grpc.ServiceError>((resolve, reject) => {
        raw.on("data", () => {});
        raw.on("error", resolve);
        raw.on("end", () => reject(new Error("call ended without an error status")));
      }),
      WAIT_MS,
      "error status",
    );
    raw.write(Buffer.from([0x12, 0x05, 0x01])); // chunk of 5 bytes, only 1 present
    raw.end();
    const err = await outcome;
    // grpc-js answers a request its deserializer refuses with INTERNAL.
    expect(err.code).toBe(grpc.status.INTERNAL);
  });
});
