/**
 * A GOAWAY from the gateway's side (what an HAProxy soft reload or a gateway's
 * max-connection-age does) must not end the streams it still carries: the old connection
 * keeps serving them while new calls go to a new connection. grpc-js drops the GOAWAY'd
 * subchannel and destroys its connector; the agent's ReapingCredentials must not then close
 * the socket under the live streams, yet must still close it once the client lets it go.
 */
import { describe, expect, test } from "bun:test";
import { connect, createServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { GatewayDialer } from "../../src/agent/gateway-dialer.ts";
import { ABANDONED_CONNECTION_GRACE_MS } from "../../src/agent/reaping-credentials.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
} from "../../src/proto/messages.ts";
import { type ProxyServiceServer, proxyServiceDefinition } from "../../src/proto/service.ts";
import { agentConfig } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { useTestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

const pki = useTestPki();
const GOAWAY_AFTER_MS = 1_000; // the server's max connection age
const LIVE_FOR_MS = 15_000; // how long the streams must outlive the GOAWAY

const cleanups = cleanupsAfterEach();

interface ServerCall {
  received: number[];
  ended: boolean;
}

/** A gRPC server that sends GOAWAY after GOAWAY_AFTER_MS but lets its streams finish. */
async function startAgingServer(tls: boolean): Promise<{ port: number; calls: ServerCall[] }> {
  const calls: ServerCall[] = [];
  const server = new grpc.Server({
    "grpc.max_connection_age_ms": GOAWAY_AFTER_MS,
    "grpc.max_connection_age_grace_ms": 120_000,
  });
  const implementation: ProxyServiceServer = {
    control(call: grpc.ServerDuplexStream<ControlRequest, ControlResponse>) {
      const seen: ServerCall = { received: [], ended: false };
      calls.push(seen);
      call.sendMetadata(new grpc.Metadata());
      call.on("data", () => seen.received.push(Date.now()));
      const end = () => {
        seen.ended = true;
      };
      call.on("cancelled", end);
      call.on("end", end);
      call.on("error", end);
    },
    data(call) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "control only" });
    },
  };
  server.addService(proxyServiceDefinition, implementation);
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: pki().serverCert, private_key: pki().serverKey },
      ])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return { port, calls };
}

/** A TCP pass-through in front of the server, to see the agent's connections open and close. */
async function startTap(upstreamPort: number): Promise<{ port: number; open: () => number }> {
  const sockets = new Set<Socket>();
  const tap = createServer((client) => {
    const upstream = connect(upstreamPort, "127.0.0.1");
    sockets.add(client);
    for (const s of [client, upstream]) s.on("error", () => {});
    client.on("close", () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => tap.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tap.close(() => resolve());
      }),
  );
  const address = tap.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    open: () => sockets.size,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a GOAWAY from the gateway side", () => {
  for (const tls of [true, false]) {
    test(`${tls ? "TLS" : "plaintext"}: active streams outlive it; the socket closes after them`, async () => {
      const server = await startAgingServer(tls);
      const tap = await startTap(server.port);
      const dialer = new GatewayDialer(
        agentConfig(tap.port, {
          insecure: !tls,
          ...(tls
            ? { target: { host: "localhost", port: tap.port }, caFile: pki().caCertPath }
            : {}),
        }),
      );
      const client = dialer.client();
      cleanups.push(() => client.close());
      const call = client.control();
      let clientEnded = "";
      call.on("data", () => {});
      call.on("error", (e: Error) => {
        clientEnded = clientEnded || `error: ${e.message}`;
      });
      call.on("end", () => {
        clientEnded = clientEnded || "end";
      });
      const request: ControlRequest = {
        proto: "tcp",
        deviceIp: "192.0.2.1",
        devicePort: 179,
        proxyIp: "127.0.0.1",
        proxyPort: 179,
        action: ControlAction.KEEPALIVE,
      };
      const started = Date.now();
      const ticker = setInterval(() => call.write(request), 250);
      cleanups.push(() => clearInterval(ticker));
      await waitUntil(() => server.calls[0]?.received.length, {
        timeoutMs: 5_000,
        what: "the first Control request at the server",
      });
      expect(tap.open()).toBe(1);

      // The server sends GOAWAY after ~1 s; the stream must carry requests for 15 s more.
      await sleep(GOAWAY_AFTER_MS * 1.2 + LIVE_FOR_MS - (Date.now() - started));
      const seen = server.calls[0];
      expect(clientEnded).toBe("");
      expect(seen?.ended).toBe(false);
      expect(server.calls.length).toBe(1);
      const last = seen?.received.at(-1) ?? 0;
      expect(Date.now() - last).toBeLessThan(1_000);
      expect(tap.open()).toBe(1);

      // Once the stream ends and the client is closed, the old connection is let go.
      clearInterval(ticker);
      call.cancel();
      client.close();
      await waitUntil(() => tap.open() === 0, {
        timeoutMs: ABANDONED_CONNECTION_GRACE_MS + 5_000,
        intervalMs: 50,
        what: "the GOAWAY'd connection to close after its last stream",
        diagnostics: () => `${tap.open()} open`,
      });
    }, 30_000);
  }
});
