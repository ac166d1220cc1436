/**
 * A bridged session's new Data stream lost while its far end is still in the handshake (our
 * OPEN sent, nothing back yet) is redialled, not resumed (src/agent/stream-reattach.ts): the
 * new far end had taken nothing over, the session is still the bridge's, and the router hears
 * nothing either way. A real agent and real gateways with resume on, a tcpLink between them
 * (so that the stream can be cut), a scripted router, and as the second gateway's forward
 * target a daemon that accepts and never answers.
 */
import { describe, expect, test } from "bun:test";
import type { Socket } from "node:net";
import { startAgent } from "../../src/agent/agent.ts";
import { MessageType } from "../../src/bgp/constants.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { BRIDGE_LOG } from "../support/bridge-stack.ts";
import { captureLogs } from "../support/log-capture.ts";
import { collectorPrefixes, LOOPBACK_DEVICE, ScriptedRouter } from "../support/scripted-router.ts";
import {
  agentConfig,
  forwardDevice,
  gatewayConfig,
  startDaemon,
  testLogger,
} from "../support/stack.ts";
import { tcpLink } from "../support/tcp-link.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

const RESUME = { windowMs: 2_000, limitBytes: 4 * 1024 * 1024 };

/** A BGP daemon that takes connections and the bytes sent to it, and never answers. */
async function silentDaemon() {
  const connections: { socket: Socket; bytes: number }[] = [];
  const { server, port } = await startDaemon((socket) => {
    const c = { socket, bytes: 0 };
    connections.push(c);
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      c.bytes += d.length;
    });
  });
  cleanups.push(() => {
    for (const c of connections) c.socket.destroy();
    server.close();
  });
  return { port, connections };
}

describe("a bridged session's new stream lost in its handshake", () => {
  test("is redialled (a new far end), not resumed; the router hears nothing", async () => {
    const first = await startGateway(
      gatewayConfig({ devices: [LOOPBACK_DEVICE], resume: RESUME }),
      testLogger(),
    );
    let firstOpen = true;
    cleanups.push(() => (firstOpen ? first.close() : undefined));
    const link = await tcpLink(first.port);
    cleanups.push(() => link.close());
    // A short resume window: the first gateway's close is bridged soon.
    const logs = captureLogs();
    const agent = await startAgent(
      agentConfig(link.port, { resume: { ...RESUME, windowMs: 300 } }),
      logs.logger,
    );
    cleanups.push(() => agent.close());
    const router = new ScriptedRouter(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"]);
    cleanups.push(() => router.socket.destroy());
    await waitUntil(() => collectorPrefixes(first) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    const session = () => agent.status().sessions[0];

    firstOpen = false;
    await first.close();
    await waitUntil(() => session()?.state === "bridging", {
      timeoutMs: 10_000,
      what: "the agent's session to be bridging",
    });

    // The next gateway forwards the session to a daemon that never answers our OPEN.
    const daemon = await silentDaemon();
    const second = await startGateway(
      gatewayConfig({
        devices: [forwardDevice("127.0.0.1", daemon.port)],
        resume: RESUME,
        listen: { host: "127.0.0.1", port: first.port },
      }),
      testLogger(),
    );
    cleanups.push(() => second.close());
    await waitUntil(
      () => session()?.bridge?.state === "reattach-open-sent" && daemon.connections[0]?.bytes,
      { timeoutMs: 15_000, what: "our OPEN at the new far end, its answer awaited" },
    );
    expect(session()?.state).toBe("relaying");

    link.cut(); // the new stream is lost in the far end's handshake
    await waitUntil(() => daemon.connections.length === 2 && daemon.connections[1]?.bytes, {
      timeoutMs: 15_000,
      what: "a new far end dialled, our OPEN at it",
      diagnostics: () => JSON.stringify({ ...session(), tuple: undefined }),
    });
    await waitUntil(() => session()?.bridge?.state === "reattach-open-sent", {
      timeoutMs: 5_000,
      what: "the bridge waiting for the new far end's OPEN",
    });
    expect(session()?.resumes).toBe(0);
    expect(session()?.bridge?.bridged).toBe(1);
    // One bridged spell: the far end was lost once (what the fault matrix counts against the
    // take-overs); the new far end lost in its handshake has a line of its own.
    expect(logs.find(BRIDGE_LOG.lost)).toHaveLength(1);
    expect(logs.find(BRIDGE_LOG.handshakeLost)).toHaveLength(1);
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(router.socket.destroyed).toBe(false);
    expect(agent.status().sessionsTotal).toBe(1);
  }, 45_000);
});
