/**
 * The gateway does not hold bare connections: a TCP connection that has not finished its
 * TLS + HTTP/2 handshake within the timeout is closed, and beyond a cap of pending
 * handshakes new connections are closed at once. Agents that handshake are unaffected.
 * The guard's time is a ManualClock: its limits are far beyond the test's real duration, so
 * a connection closes only when the test moves the clock past them.
 */
import { describe, expect, test } from "bun:test";
import { connect as connectHttp2 } from "node:http2";
import { connect, type Socket } from "node:net";
import { startAgent } from "../../src/agent/agent.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { agentConfig, gatewayConfig } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { useTestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

const pki = useTestPki();

const cleanups = cleanupsAfterEach();

function bareConnection(port: number): { socket: Socket; closed: () => boolean } {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  let closed = false;
  socket.on("close", () => {
    closed = true;
  });
  cleanups.push(() => socket.destroy());
  return { socket, closed: () => closed };
}

/** Long enough for a close the guard would have made to reach the test's side of loopback. */
const SETTLE_MS = 150;
const MINUTE_MS = 60_000;

describe("gateway handshake guard", () => {
  test("bare TCP connections are closed after the handshake timeout, and beyond the cap at once", async () => {
    const logs = captureLogs();
    const clock = new ManualClock();
    const gateway = await startGateway(
      gatewayConfig({
        insecure: false,
        tlsCert: pki().serverCertPath,
        tlsKey: pki().serverKeyPath,
      }),
      logs.logger,
      {
        handshake: { timeoutMs: MINUTE_MS, maxPending: 4, loginTimeoutMs: MINUTE_MS / 2 },
        handshakeClock: clock,
      },
    );
    cleanups.push(() => gateway.close());
    const conns: ReturnType<typeof bareConnection>[] = [];
    for (let i = 0; i < 6; i++) {
      conns.push(bareConnection(gateway.port));
      await Bun.sleep(20);
    }
    const closed = () => conns.filter((c) => c.closed()).length;
    // Two over the cap go at once.
    await waitUntil(() => closed() >= 2, {
      timeoutMs: 2_000,
      what: "the connections over the cap to be closed",
    });
    // The first close logs at once; the second waits for the next line (no line per close).
    const lines = () => logs.find("closed connections that did not finish the handshake");
    expect(lines().map((l) => l.over_cap)).toEqual([1]);
    // The rest when the timeout runs out, not before.
    clock.advance(MINUTE_MS - 1);
    await Bun.sleep(SETTLE_MS);
    expect(closed()).toBe(2);
    clock.advance(1);
    await waitUntil(() => closed() === 6, {
      timeoutMs: 2_000,
      what: "every bare connection to be closed",
    });
    // The second over the cap in the next sweep past the report interval, the timeouts later.
    expect(lines().map((l) => [l.over_cap, l.timed_out])).toEqual([
      [1, 0],
      [1, 0],
      [0, 4],
    ]);

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
    // Logged in over TLS: past both timeouts, still up on its first connection.
    clock.advance(2 * MINUTE_MS);
    await Bun.sleep(SETTLE_MS);
    expect(agent.status().control.state).toBe("ready");
    expect(agent.status().control.reconnects).toBe(0);
  }, 20_000);

  test("an HTTP/2 connection that never logs in is closed; a logged-in agent's is not", async () => {
    const clock = new ManualClock();
    const gateway = await startGateway(gatewayConfig({}), captureLogs().logger, {
      handshake: { timeoutMs: 4 * MINUTE_MS, maxPending: 4, loginTimeoutMs: MINUTE_MS },
      handshakeClock: clock,
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
    expect(idle.connecting).toBe(false);
    clock.advance(MINUTE_MS - 1);
    await Bun.sleep(SETTLE_MS);
    expect(idleClosed).toBe(false);
    clock.advance(1);
    await waitUntil(() => idleClosed, {
      timeoutMs: 2_000,
      what: "the idle HTTP/2 connection to close",
    });
    clock.advance(2 * MINUTE_MS);
    await Bun.sleep(SETTLE_MS);
    expect(agent.status().control.state).toBe("ready");
    expect(agent.status().control.reconnects).toBe(0);
    // Stopped with the gateway: no sweep left on the clock.
    await agent.close();
    await gateway.close();
    expect(clock.pending).toBe(0);
  }, 20_000);
});
