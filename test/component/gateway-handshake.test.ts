/**
 * The gateway does not hold bare connections: a TCP connection that has not finished its
 * TLS + HTTP/2 handshake within the timeout is closed, and beyond a cap of pending
 * handshakes new connections are closed at once. Agents that handshake are unaffected.
 */
import { describe, expect, test } from "bun:test";
import { connect as connectHttp2 } from "node:http2";
import { connect, type Socket } from "node:net";
import { startAgent } from "../../src/agent/agent.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs } from "../support/log-capture.ts";
import { agentConfig, gatewayConfig } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { useTestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

const pki = useTestPki();

const cleanups = cleanupsAfterEach();

function bareConnection(port: number): { socket: Socket; closedAt: () => number | undefined } {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  let closed: number | undefined;
  socket.on("close", () => {
    closed = performance.now();
  });
  cleanups.push(() => socket.destroy());
  return { socket, closedAt: () => closed };
}

describe("gateway handshake guard", () => {
  test("bare TCP connections are closed after the handshake timeout, and beyond the cap at once", async () => {
    const logs = captureLogs();
    const gateway = await startGateway(
      gatewayConfig({
        insecure: false,
        tlsCert: pki().serverCertPath,
        tlsKey: pki().serverKeyPath,
      }),
      logs.logger,
      { handshake: { timeoutMs: 1_000, maxPending: 4, loginTimeoutMs: 600 } },
    );
    cleanups.push(() => gateway.close());
    const start = performance.now();
    const conns: ReturnType<typeof bareConnection>[] = [];
    for (let i = 0; i < 6; i++) {
      conns.push(bareConnection(gateway.port));
      await Bun.sleep(20);
    }
    // Two over the cap go at once.
    await waitUntil(() => conns.filter((c) => c.closedAt() !== undefined).length >= 2, {
      timeoutMs: 800,
      what: "the connections over the cap to be closed",
    });
    expect(conns.filter((c) => c.closedAt() !== undefined)).toHaveLength(2);
    // The rest when the timeout runs out, not before.
    await waitUntil(() => conns.every((c) => c.closedAt() !== undefined), {
      timeoutMs: 4_000,
      what: "every bare connection to be closed",
    });
    const late = conns.map((c) => (c.closedAt() ?? 0) - start).sort((a, b) => a - b);
    expect(late[2]).toBeGreaterThan(900);
    expect(
      logs.find("closed connections that did not finish the handshake").length,
    ).toBeGreaterThan(0);

    // An agent's TLS connection still comes up.
    const agent = await startAgent(
      agentConfig(gateway.port, {
        insecure: false,
        target: { host: "localhost", port: gateway.port },
        caFile: pki().caCertPath,
      }),
      captureLogs().logger,
    );
    cleanups.push(() => agent.close());
    await waitUntil(() => agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the agent's control stream to be ready",
    });
    // Logged in over TLS: past the login timeout, still up on its first connection.
    await Bun.sleep(1_000);
    expect(agent.status().control.state).toBe("ready");
    expect(agent.status().control.reconnects).toBe(0);
  }, 20_000);

  test("an HTTP/2 connection that never logs in is closed; a logged-in agent's is not", async () => {
    const gateway = await startGateway(gatewayConfig({}), captureLogs().logger, {
      handshake: { timeoutMs: 5_000, maxPending: 4, loginTimeoutMs: 600 },
    });
    cleanups.push(() => gateway.close());
    const idle = connectHttp2(`http://127.0.0.1:${gateway.port}`);
    idle.on("error", () => {});
    let idleClosed = false;
    idle.on("close", () => {
      idleClosed = true;
    });
    cleanups.push(() => idle.destroy());
    const agent = await startAgent(agentConfig(gateway.port), captureLogs().logger);
    cleanups.push(() => agent.close());
    await waitUntil(() => agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the agent's control stream to be ready",
    });
    await waitUntil(() => idleClosed, {
      timeoutMs: 3_000,
      what: "the idle HTTP/2 connection to close",
    });
    await Bun.sleep(800);
    expect(agent.status().control.state).toBe("ready");
    expect(agent.status().control.reconnects).toBe(0);
  }, 20_000);
});
