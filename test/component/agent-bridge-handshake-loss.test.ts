/**
 * A bridged session's new Data stream lost while its far end is still in the handshake (our
 * OPEN sent, nothing back yet) is redialled, not resumed (src/agent/stream-reattach.ts): the
 * new far end had taken nothing over, the session is still the bridge's, and the router hears
 * nothing either way. A real agent and real gateways with resume on, a tcpLink between them
 * (so that the stream can be cut), a scripted router, and as the second gateway's forward
 * target a daemon that accepts and never answers. The same holds for a new far end that
 * closes at once (a FIN during the handshake): it is a loss, never the router's FIN.
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

/**
 * A BGP daemon that takes connections and the bytes sent to it, and never answers. The first
 * `refuse` connections it closes at once (a FIN), as BIRD did once its hold timer had
 * expired (the fault matrix's 60 s partition).
 */
async function silentDaemon(refuse = 0) {
  const connections: { socket: Socket; bytes: number }[] = [];
  const { server, port } = await startDaemon((socket) => {
    const c = { socket, bytes: 0 };
    connections.push(c);
    socket.on("error", () => {});
    if (connections.length <= refuse) socket.end();
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

/**
 * A router's session through an agent, bridged (its first gateway closed), and a second
 * gateway on the same address that forwards it to `daemon`.
 */
async function bridgedTowards(daemonPort: number) {
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
  const second = await startGateway(
    gatewayConfig({
      devices: [forwardDevice("127.0.0.1", daemonPort)],
      resume: RESUME,
      listen: { host: "127.0.0.1", port: first.port },
    }),
    testLogger(),
  );
  cleanups.push(() => second.close());
  return { agent, router, session, logs, link };
}

type Bridged = Awaited<ReturnType<typeof bridgedTowards>>;

/** Waits for a second far end dialled, our OPEN at it, and the bridge awaiting its answer. */
async function secondFarEnd(daemon: Awaited<ReturnType<typeof silentDaemon>>, b: Bridged) {
  await waitUntil(() => daemon.connections.length === 2 && daemon.connections[1]?.bytes, {
    timeoutMs: 15_000,
    what: "a second far end dialled, our OPEN at it",
    diagnostics: () => JSON.stringify({ ...b.session(), tuple: undefined }),
  });
  await waitUntil(() => b.session()?.bridge?.state === "reattach-open-sent", {
    timeoutMs: 5_000,
    what: "the bridge waiting for the second far end's OPEN",
  });
}

/**
 * One bridged spell, and the router heard nothing of the far end lost in its handshake: the
 * far end was lost once (what the fault matrix counts against the take-overs); the new far
 * end lost in its handshake has a line of its own.
 */
function routerHeardNothing(b: Bridged): void {
  expect(b.session()?.bridge?.bridged).toBe(1);
  expect(b.logs.find(BRIDGE_LOG.lost)).toHaveLength(1);
  expect(b.logs.find(BRIDGE_LOG.handshakeLost)).toHaveLength(1);
  expect(b.router.count(MessageType.NOTIFICATION)).toBe(0);
  expect(b.router.socket.readableEnded).toBe(false);
  expect(b.router.socket.destroyed).toBe(false);
  expect(b.agent.status().sessionsTotal).toBe(1);
}

describe("a bridged session's new stream lost in its handshake", () => {
  test("is redialled (a new far end), not resumed; the router hears nothing", async () => {
    // The next gateway forwards the session to a daemon that never answers our OPEN.
    const daemon = await silentDaemon();
    const b = await bridgedTowards(daemon.port);
    await waitUntil(
      () => b.session()?.bridge?.state === "reattach-open-sent" && daemon.connections[0]?.bytes,
      { timeoutMs: 15_000, what: "our OPEN at the new far end, its answer awaited" },
    );
    expect(b.session()?.state).toBe("relaying");

    b.link.cut(); // the new stream is lost in the far end's handshake
    await secondFarEnd(daemon, b);
    expect(b.session()?.resumes).toBe(0);
    routerHeardNothing(b);
  }, 45_000);

  // Found by the fault matrix's 60 s partition: the far-end BIRD's hold timer expired, and
  // BIRD closed the bridge's next connection at once (a FIN after our OPEN). That FIN was
  // passed to the router, which closed its session.
  test("a new far end that closes at once (a FIN, not a reset): another is dialled; no FIN to the router", async () => {
    const daemon = await silentDaemon(1);
    const b = await bridgedTowards(daemon.port);
    await secondFarEnd(daemon, b);
    routerHeardNothing(b);
  }, 45_000);
});
