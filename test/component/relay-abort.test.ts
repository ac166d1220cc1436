/**
 * How a session ends when the far side aborts: a KILL from the gateway resets the router
 * connection (RST, not FIN), a Data stream error closes it, and a router's RST reaches the
 * gateway as a KILL. A scripted gateway (real grpc-js server, our service definition)
 * stands in for the far side so each case can be forced.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { startAgent } from "../../src/agent/agent.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
  DataAction,
  type DataMessage,
} from "../../src/proto/messages.ts";
import { type ProxyServiceServer, proxyServiceDefinition } from "../../src/proto/service.ts";
import { bindLoopback } from "../support/grpc-loopback.ts";
import { agentConfig, testLogger } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

type DataCall = grpc.ServerDuplexStream<DataMessage, DataMessage>;

const cleanups = cleanupsAfterEach();

/** A gateway that admits every router and hands each Data call to `onData`. */
async function scriptedGateway(onData: (call: DataCall) => void): Promise<number> {
  const server = new grpc.Server();
  const implementation: ProxyServiceServer = {
    control(call: grpc.ServerDuplexStream<ControlRequest, ControlResponse>) {
      call.sendMetadata(new grpc.Metadata());
      call.on("data", (r: ControlRequest) =>
        call.write({
          ...r,
          ttlSeconds: 0,
          ttlCounter: 0,
          action:
            r.action === ControlAction.KEEPALIVE
              ? ControlAction.KEEPALIVE
              : ControlAction.UNSPECIFIED,
          metadata: [],
          companyId: 1,
          deviceId: 1,
          deviceName: "r1",
          tcpMd5: new Uint8Array(0),
        }),
      );
      call.on("error", () => {});
    },
    data(call: DataCall) {
      const md = new grpc.Metadata();
      md.set("counter-up", "0");
      md.set("counter-down", "0");
      call.sendMetadata(md);
      call.on("error", () => {});
      onData(call);
    },
  };
  server.addService(proxyServiceDefinition, implementation);
  const port = await bindLoopback(server);
  cleanups.push(() => server.forceShutdown());
  return port;
}

async function agentFor(gatewayPort: number) {
  const agent = await startAgent(agentConfig(gatewayPort), testLogger());
  cleanups.push(() => agent.close());
  return agent;
}

/** Connects a router and resolves with how its connection ended. */
async function routerEnding(
  port: number,
  send?: Buffer,
): Promise<{ socket: Socket; ended: Promise<string> }> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise((r) => socket.once("connect", r));
  cleanups.push(() => socket.destroy());
  const ended = new Promise<string>((resolve) => {
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.on("end", () => resolve("FIN"));
    socket.on("close", () => resolve("closed"));
  });
  socket.on("data", () => {});
  if (send) socket.write(send);
  return { socket, ended };
}

describe("aborted sessions", () => {
  test("a KILL from the gateway resets the router connection", async () => {
    const port = await scriptedGateway((call) => {
      call.once("data", () => call.write({ action: DataAction.KILL, data: [] }));
    });
    const agent = await agentFor(port);
    const router = await routerEnding(agent.listening[0]?.port ?? 0, Buffer.from("hello"));
    expect(await router.ended).toBe("ECONNRESET");
    await waitUntil(() => agent.status().sessions.length === 0, {
      timeoutMs: 5_000,
      what: "the session to end",
    });
  }, 15_000);

  test("a Data stream error closes the router connection", async () => {
    const port = await scriptedGateway((call) => {
      call.once("data", () => call.emit("error", { code: grpc.status.INTERNAL, details: "boom" }));
    });
    const agent = await agentFor(port);
    const router = await routerEnding(agent.listening[0]?.port ?? 0, Buffer.from("hello"));
    expect(["FIN", "closed", "ECONNRESET"]).toContain(await router.ended);
    await waitUntil(() => agent.status().sessions.length === 0, {
      timeoutMs: 5_000,
      what: "the session to end",
    });
  }, 15_000);

  test("a router's RST reaches the gateway as a KILL", async () => {
    let received!: (m: DataMessage[]) => void;
    const messages = new Promise<DataMessage[]>((r) => {
      received = r;
    });
    const port = await scriptedGateway((call) => {
      const seen: DataMessage[] = [];
      call.on("data", (m: DataMessage) => {
        seen.push({ action: m.action, data: m.data.map((d) => Buffer.from(d)) });
        if (m.action === DataAction.KILL) received(seen);
      });
    });
    const agent = await agentFor(port);
    const router = await routerEnding(agent.listening[0]?.port ?? 0, Buffer.from("first bytes"));
    await waitUntil(() => agent.status().sessions[0]?.bytesUp === 11, {
      timeoutMs: 5_000,
      what: "the router's bytes to be relayed",
    });
    router.socket.resetAndDestroy();
    const seen = await messages;
    expect(Buffer.concat(seen.flatMap((m) => m.data)).toString()).toBe("first bytes");
    expect(seen.at(-1)?.action).toBe(DataAction.KILL);
  }, 15_000);
});
