/**
 * The gateway's side of the contract's graceful RESTART, seen by an agent that follows only
 * the published contract (a raw ProxyService client: no `resume` header, no
 * ResumeService): the agent sends RESTART first and half-closes; the gateway answers with
 * RESTART and ends the stream, holds the daemon connection, and re-attaches it to the
 * session's next stream when its counters match (what the daemon sent meanwhile arrives
 * first). Counters that do not match, or a session the gateway does not hold, get KILL.
 */
import { describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { startGateway } from "../../src/gateway/gateway.ts";
import { DataAction, type DataMessage } from "../../src/proto/messages.ts";
import { metadataReader, readCounters, readResumeAnswer } from "../../src/proto/metadata.ts";
import { type ProxyClient, ProxyServiceClient } from "../../src/proto/service.ts";
import { openDataCall } from "../support/raw-gateway.ts";
import { forwardDevice, gatewayConfig, startDaemon, testLogger } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil, within } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

const text = (m: DataMessage) => Buffer.concat(m.data).toString();
const bytes = (s: string): DataMessage => ({
  action: DataAction.UNSPECIFIED,
  data: [Buffer.from(s)],
});

async function setUp() {
  let connections = 0;
  let daemonSocket: Socket | undefined;
  const atDaemon: string[] = [];
  const daemon = await startDaemon((socket) => {
    connections++;
    daemonSocket = socket;
    socket.on("data", (d: Buffer) => atDaemon.push(d.toString()));
  });
  cleanups.push(() => daemon.server.close());
  const gateway = await startGateway(
    gatewayConfig({
      devices: [forwardDevice("127.0.0.1", daemon.port)],
      resume: { windowMs: 30_000, limitBytes: 4 * 1024 * 1024 },
    }),
    testLogger(),
  );
  cleanups.push(() => gateway.close());
  const client = new ProxyServiceClient(
    `127.0.0.1:${gateway.port}`,
    grpc.credentials.createInsecure(),
  ) as ProxyClient;
  cleanups.push(() => client.close());
  return {
    gateway,
    client,
    atDaemon,
    connections: () => connections,
    daemon: () => daemonSocket as Socket,
  };
}

/** A session with one message each way, then the agent's RESTART answered by the gateway. */
async function restartedSession(s: Awaited<ReturnType<typeof setUp>>) {
  const sessionId = randomUUID();
  const first = openDataCall(s.client, sessionId, 0, 0);
  first.call.write(bytes("hello"));
  await waitUntil(() => s.atDaemon.join("") === "hello", { timeoutMs: 5_000, what: "hello" });
  s.daemon().write("world");
  await waitUntil(() => first.got.length === 1, { timeoutMs: 5_000, what: "world" });
  expect(text(first.got[0] as DataMessage)).toBe("world");
  first.call.write({ action: DataAction.RESTART, data: [] });
  first.call.end();
  await within(first.ended, 5_000, "the gateway to end the stream");
  expect(first.got.map((m) => m.action)).toEqual([DataAction.UNSPECIFIED, DataAction.RESTART]);
  expect(readResumeAnswer(metadataReader(first.headers() as grpc.Metadata))).toBeUndefined();
  return sessionId;
}

describe("the gateway answers a contract-only agent's RESTART", () => {
  test("RESTART answered; the next stream with matching counters gets the same daemon connection", async () => {
    const s = await setUp();
    const sessionId = await restartedSession(s);
    s.daemon().write("while away");
    await Bun.sleep(100);
    expect(s.gateway.sessions.size).toBe(1); // held

    const next = openDataCall(s.client, sessionId, 1, 1);
    await waitUntil(() => next.got.length === 1, { timeoutMs: 5_000, what: "the queued bytes" });
    expect(readCounters(metadataReader(next.headers() as grpc.Metadata))).toEqual({
      up: 1,
      down: 1,
    });
    expect(text(next.got[0] as DataMessage)).toBe("while away");
    next.call.write(bytes(" again"));
    await waitUntil(() => s.atDaemon.join("") === "hello again", {
      timeoutMs: 5_000,
      what: "the daemon to get the next stream's bytes",
    });
    expect(s.connections()).toBe(1);
    next.call.end();
  });

  test("counters that do not match: KILL, and the held session ends", async () => {
    const s = await setUp();
    const sessionId = await restartedSession(s);
    // The agent claims 3 messages received; the gateway sent 1.
    const next = openDataCall(s.client, sessionId, 1, 3);
    await within(next.ended, 5_000, "the stream to end");
    expect(next.got.map((m) => m.action)).toEqual([DataAction.KILL]);
    await waitUntil(() => s.gateway.sessions.size === 0, {
      timeoutMs: 5_000,
      what: "the held session to end",
    });
  });

  test("a session this gateway does not hold: counters 0/0 and KILL", async () => {
    const s = await setUp();
    const next = openDataCall(s.client, randomUUID(), 3, 2);
    await within(next.ended, 5_000, "the stream to end");
    expect(readCounters(metadataReader(next.headers() as grpc.Metadata))).toEqual({
      up: 0,
      down: 0,
    });
    expect(next.got.map((m) => m.action)).toEqual([DataAction.KILL]);
    expect(s.connections()).toBe(0);
  });
});
