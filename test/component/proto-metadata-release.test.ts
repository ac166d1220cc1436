/**
 * A client call's request headers are freed once the call no longer needs them
 * (src/proto/metadata-release.ts), over a real grpc-js client (the agent's channel options)
 * and server on loopback. grpc-js's two copies of a Data call's ~20 headers are recorded where
 * it hands them on (the pick's clone to the subchannel, the call's own copy to the
 * LoadBalancingCall): the server still receives every header intact; the pick's clone is empty
 * once the stream exists; the call's own copy stays whole until the server's response headers
 * arrive (a failed pick would clone it again) and is empty after them; the call still works.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { LoadBalancingCall } from "@grpc/grpc-js/build/src/load-balancing-call.js";
import { Subchannel } from "@grpc/grpc-js/build/src/subchannel.js";
import { channelOptions } from "../../src/agent/gateway-dialer.ts";
import { parseAgentConfig } from "../../src/config/agent-config.ts";
import { DataAction, type DataMessage } from "../../src/proto/messages.ts";
import { installMetadataRelease } from "../../src/proto/metadata-release.ts";
import { ProxyServiceClient, proxyServiceDefinition } from "../../src/proto/service.ts";
import { bindLoopback } from "../support/grpc-loopback.ts";
import { within as settlesWithin } from "../support/wait.ts";

const WAIT_MS = 10_000;
/** Header pairs the client sends: more than JavaScriptCore's 16-entry Map table. */
const PAIRS: Array<[string, string]> = Array.from({ length: 19 }, (_, i) => [
  `x-pair-${i}`,
  `value-${i}-`.repeat(3),
]);
const BINARY = Buffer.from([0, 1, 2, 250, 251, 252]);

/** The Metadata objects grpc-js handed on, by where. */
const handedOn = { pick: [] as grpc.Metadata[], call: [] as grpc.Metadata[] };

/**
 * Record what each patched step receives, then run it; returns the undo (the tier's other
 * files run in the same process and must not keep feeding these arrays).
 */
function record(): () => void {
  const pick = Subchannel.prototype.createCall;
  Subchannel.prototype.createCall = function (this: Subchannel, metadata, ...rest) {
    handedOn.pick.push(metadata);
    return pick.call(this, metadata, ...rest);
  };
  const start = LoadBalancingCall.prototype.start;
  LoadBalancingCall.prototype.start = function (this: LoadBalancingCall, metadata, listener) {
    handedOn.call.push(metadata);
    return start.call(this, metadata, listener);
  };
  return () => {
    Subchannel.prototype.createCall = pick;
    LoadBalancingCall.prototype.start = start;
  };
}
let unrecord: (() => void) | undefined;

/** `promise`, or a rejection naming `what` after WAIT_MS. */
const within = <T>(promise: Promise<T>, what: string) => settlesWithin(promise, WAIT_MS, what);

let server: grpc.Server;
let address = "";
/** The server's side of the stream and what it received in the request headers. */
let serverCall: Promise<grpc.ServerDuplexStream<DataMessage, DataMessage>>;
let gotCall: (call: grpc.ServerDuplexStream<DataMessage, DataMessage>) => void;

beforeAll(async () => {
  expect(installMetadataRelease()).toBe(true);
  unrecord = record();
  serverCall = new Promise((resolve) => {
    gotCall = resolve;
  });
  server = new grpc.Server();
  server.addService(proxyServiceDefinition, {
    data(call: grpc.ServerDuplexStream<DataMessage, DataMessage>) {
      // No headers yet: the test sends them when it has looked at the client's copies.
      call.on("data", (m: DataMessage) => call.write(m)); // echo
      call.on("end", () => call.end());
      gotCall(call);
    },
    control(call: grpc.ServerDuplexStream<unknown, unknown>) {
      call.end();
    },
  });
  const port = await bindLoopback(server);
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  unrecord?.();
  server?.forceShutdown();
});

const entries = (md: grpc.Metadata) => Object.keys(md.getMap()).length;

describe("a client call's metadata released", () => {
  test("sent intact; the pick's clone emptied once the stream exists, the call's copy once the server answered", async () => {
    const agent = parseAgentConfig([`--target=${address}`, "--insecure"], {
      KENTIK_API_EMAIL: "ops@example.net",
      KENTIK_API_TOKEN: "t0ken",
    });
    const client = new ProxyServiceClient(
      address,
      grpc.credentials.createInsecure(),
      channelOptions(agent),
    );
    try {
      const metadata = new grpc.Metadata();
      for (const [k, v] of PAIRS) metadata.set(k, v);
      metadata.set("x-pair-bin", BINARY);
      const call = client.data(metadata);
      const answered = new Promise<grpc.Metadata>((resolve) => call.on("metadata", resolve));
      const echoed = new Promise<DataMessage>((resolve) => call.on("data", resolve));
      const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));

      const server = await within(serverCall, "the server's stream");
      // Every header arrived, values intact.
      for (const [k, v] of PAIRS) expect(server.metadata.get(k)).toEqual([v]);
      expect(Buffer.from(server.metadata.get("x-pair-bin")[0] as Buffer).equals(BINARY)).toBe(true);

      // The stream exists: the pick's clone is empty; the call's copy is whole until the answer.
      expect(handedOn.pick).toHaveLength(1);
      expect(handedOn.call).toHaveLength(1);
      const [pick] = handedOn.pick as [grpc.Metadata];
      const [own] = handedOn.call as [grpc.Metadata];
      expect(pick).not.toBe(own);
      expect(entries(pick)).toBe(0);
      expect(entries(own)).toBeGreaterThan(PAIRS.length);
      expect(own.get("x-pair-0")).toEqual([PAIRS[0]?.[1] ?? ""]);

      server.sendMetadata(new grpc.Metadata());
      await within(answered, "the response headers");
      expect(entries(own)).toBe(0);
      // Our own Metadata object is grpc-js's to clone, never emptied.
      expect(entries(metadata)).toBe(PAIRS.length + 1);

      // The call goes on.
      call.write({ action: DataAction.UNSPECIFIED, data: [Buffer.from("after the headers")] });
      const back = await within(echoed, "the echo");
      expect(Buffer.from(back.data[0] ?? []).toString()).toBe("after the headers");
      call.end();
      expect((await within(status, "the status")).code).toBe(grpc.status.OK);
    } finally {
      client.close();
    }
  });
});
