/**
 * The Control stream's heartbeat watchdog: a gateway that accepts the stream but then says
 * nothing (a half-open path) is torn down and redialled; a healthy gateway answers the
 * keepalives, an RTT is measured and the stream stays up.
 */
import { describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { startAgent } from "../../src/agent/agent.ts";
import { ABANDONED_CONNECTION_GRACE_MS } from "../../src/agent/reaping-credentials.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
} from "../../src/proto/messages.ts";
import { type ProxyServiceServer, proxyServiceDefinition } from "../../src/proto/service.ts";
import { bindLoopback } from "../support/grpc-loopback.ts";
import { captureLogs } from "../support/log-capture.ts";
import { agentConfig, gatewayConfig } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const FAST_HEARTBEAT = { intervalMs: 100, timeoutMs: 300 };

const cleanups = cleanupsAfterEach();

interface SilentCall {
  requests: ControlRequest[];
  cancelled: boolean;
}

/** A gateway that accepts Control streams (sends headers) and then never writes a message. */
async function startSilentGateway(
  sendHeaders = true,
): Promise<{ port: number; calls: SilentCall[] }> {
  const calls: SilentCall[] = [];
  const server = new grpc.Server();
  const implementation: ProxyServiceServer = {
    control(call: grpc.ServerDuplexStream<ControlRequest, ControlResponse>) {
      const seen: SilentCall = { requests: [], cancelled: false };
      calls.push(seen);
      if (sendHeaders) call.sendMetadata(new grpc.Metadata());
      call.on("data", (request: ControlRequest) => seen.requests.push(request));
      call.on("cancelled", () => {
        seen.cancelled = true;
      });
      call.on("error", () => {});
    },
    data(call) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "silent gateway" });
    },
  };
  server.addService(proxyServiceDefinition, implementation);
  const port = await bindLoopback(server);
  cleanups.push(() => server.forceShutdown());
  return { port, calls };
}

describe("control stream watchdog", () => {
  test("a gateway that never answers keepalives is torn down and redialled", async () => {
    const gw = await startSilentGateway();
    const logs = captureLogs();
    const agent = await startAgent(
      agentConfig(gw.port, { heartbeat: FAST_HEARTBEAT }),
      logs.logger,
    );
    cleanups.push(() => agent.close());

    await waitUntil(() => gw.calls.length >= 2, {
      timeoutMs: 5_000,
      intervalMs: 25,
      what: "the agent to redial the silent gateway",
      diagnostics: () => JSON.stringify(agent.status().control),
    });
    const first = gw.calls[0];
    if (!first) throw new Error("no first call");
    // The first stream got the agent's headers, and the agent kept probing it...
    const keepalives = first.requests.filter((r) => r.action === ControlAction.KEEPALIVE);
    expect(keepalives.length).toBeGreaterThanOrEqual(1);
    // ...then cancelled it: the teardown reached the gateway, it was not just forgotten.
    await waitUntil(() => first.cancelled, {
      timeoutMs: 2_000,
      intervalMs: 25,
      what: "the gateway to see the first stream cancelled",
    });

    const control = agent.status().control;
    expect(control.reconnects).toBeGreaterThanOrEqual(1);
    expect(control.lastError).toMatch(/no message from the gateway for \d+ ms/);
    expect(control.lastRttMs).toBeUndefined();
    const down = logs.find(/^control stream down: no message from the gateway/);
    expect(down.length).toBeGreaterThanOrEqual(1);
    expect(down[0]?.level).toBe("warn");
  }, 15_000);

  test("a healthy gateway answers keepalives: RTT measured, no reconnect", async () => {
    const gateway = await startGateway(gatewayConfig(), captureLogs().logger);
    cleanups.push(() => gateway.close());
    const agent = await startAgent(
      agentConfig(gateway.port, { heartbeat: FAST_HEARTBEAT }),
      captureLogs().logger,
    );
    cleanups.push(() => agent.close());

    const rtt = await waitUntil(() => agent.status().control.lastRttMs, {
      timeoutMs: 5_000,
      intervalMs: 25,
      what: "a keepalive round trip",
    });
    expect(typeof rtt).toBe("number");
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(300);

    const before = agent.status().control.messagesRx;
    await Bun.sleep(1_000);
    const control = agent.status().control;
    expect(control.state).toBe("ready");
    expect(control.reconnects).toBe(0);
    expect(control.lastError).toBeUndefined();
    // About ten keepalives answered in that second; allow for timer slack.
    expect(control.messagesRx - before).toBeGreaterThanOrEqual(5);
    expect(gateway.agents.all()).toHaveLength(1);
  }, 15_000);

  test("a gateway that never sends the stream's headers is redialled too", async () => {
    const gw = await startSilentGateway(false);
    const agent = await startAgent(
      agentConfig(gw.port, { heartbeat: FAST_HEARTBEAT }),
      captureLogs().logger,
    );
    cleanups.push(() => agent.close());
    await waitUntil(() => gw.calls.length >= 2, {
      timeoutMs: 5_000,
      intervalMs: 25,
      what: "the agent to redial the gateway that never answered",
      diagnostics: () => JSON.stringify(agent.status().control),
    });
    const control = agent.status().control;
    expect(control.reconnects).toBeGreaterThanOrEqual(1);
    expect(control.lastError).toMatch(/no message from the gateway for \d+ ms/);
    expect(control.messagesRx).toBe(0);
  }, 15_000);

  test("a TCP peer that never speaks HTTP/2 is redialled, and its connections closed", async () => {
    const accepted: { socket: Socket; closed: boolean }[] = [];
    const mute = createServer((socket) => {
      const entry = { socket, closed: false };
      accepted.push(entry);
      socket.on("error", () => {});
      socket.on("close", () => {
        entry.closed = true;
      });
      socket.resume(); // read and drop, never answer
    });
    await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const a of accepted) a.socket.destroy();
          mute.close(() => resolve());
        }),
    );
    const address = mute.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const agent = await startAgent(
      agentConfig(port, { heartbeat: FAST_HEARTBEAT }),
      captureLogs().logger,
    );
    let agentClosed = false;
    cleanups.push(() => (agentClosed ? undefined : agent.close()));

    // The redial is a new TCP connection...
    await waitUntil(() => accepted.length >= 2, {
      timeoutMs: 5_000,
      intervalMs: 25,
      what: "a second TCP connection from the agent",
      diagnostics: () => JSON.stringify(agent.status().control),
    });
    expect(agent.status().control.reconnects).toBeGreaterThanOrEqual(1);
    expect(agent.status().control.state).not.toBe("ready");
    // ...and the abandoned one, stuck in the HTTP/2 handshake, is closed, not leaked.
    await waitUntil(() => accepted[0]?.closed, {
      timeoutMs: ABANDONED_CONNECTION_GRACE_MS + 3_000,
      intervalMs: 25,
      what: "the agent to close the abandoned connection",
    });
    // Closing the agent lets go of every connection it made.
    await agent.close();
    agentClosed = true;
    await waitUntil(() => accepted.every((a) => a.closed), {
      timeoutMs: ABANDONED_CONNECTION_GRACE_MS + 3_000,
      intervalMs: 25,
      what: "every connection to the mute peer to close after the agent stopped",
      diagnostics: () => `${accepted.filter((a) => !a.closed).length} of ${accepted.length} open`,
    });
  }, 15_000);
});
