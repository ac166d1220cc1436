/**
 * A router the gateway does not know: the gateway answers BLOCK_IP, the agent closes the
 * connection and deny-lists the address for the TTL, and later connections from it are
 * refused at accept time without asking the gateway again. Other routers are unaffected.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import type { DeviceConfig } from "../../src/config/types.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil, within } from "../support/wait.ts";

const GATEWAY_BLOCK_LINE = "blocked an unknown device";
const AGENT_BLOCK_LINE = "Deny-listed an INVALID / UNKNOWN device";

interface Harness {
  gateway: RunningGateway;
  agent: RunningAgent;
  gwLogs: LogCapture;
  agentLogs: LogCapture;
  routerPort: number;
}

const cleanups = cleanupsAfterEach();

async function start(devices: DeviceConfig[] = []): Promise<Harness> {
  const gwLogs = captureLogs();
  const agentLogs = captureLogs();
  const gateway = await startGateway(gatewayConfig({ devices }), gwLogs.logger);
  cleanups.push(() => gateway.close());
  const agent = await startAgent(agentConfig(gateway.port), agentLogs.logger);
  cleanups.push(() => agent.close());
  await waitUntil(() => agent.status().control.state === "ready", {
    timeoutMs: 5_000,
    what: "the control stream to be ready",
  });
  return { gateway, agent, gwLogs, agentLogs, routerPort: agent.listening[0]?.port ?? 0 };
}

/** A router connection and what happened to it: bytes received, when it closed. */
interface RouterConn {
  socket: Socket;
  received: Buffer[];
  closed: Promise<void>;
}

async function connectRouter(port: number, localAddress = "127.0.0.1"): Promise<RouterConn> {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  cleanups.push(() => socket.destroy());
  const received: Buffer[] = [];
  socket.on("data", (d: Buffer) => received.push(d));
  socket.on("error", () => {}); // an RST from the agent is one of the expected outcomes
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received, closed };
}

describe("agent deny-list", () => {
  test("an unknown router is closed, deny-listed once, and refused later without asking the gateway", async () => {
    const h = await start([]);

    const first = await connectRouter(h.routerPort);
    await within(first.closed, 5_000, "the agent to close the blocked router's connection");
    expect(Buffer.concat(first.received).length).toBe(0);
    await waitUntil(() => h.agent.status().denyListSize === 1, {
      timeoutMs: 2_000,
      what: "the agent to deny-list 127.0.0.1",
    });
    expect(h.gwLogs.find(GATEWAY_BLOCK_LINE)).toHaveLength(1);
    expect(h.gwLogs.find(GATEWAY_BLOCK_LINE)[0]).toMatchObject({
      device_ip: "127.0.0.1",
      ttl_seconds: 1200,
    });

    const second = await connectRouter(h.routerPort);
    await within(second.closed, 2_000, "the agent to refuse the deny-listed router");
    expect(Buffer.concat(second.received).length).toBe(0);
    await waitUntil(() => h.agent.status().blockedAttempts === 1, {
      timeoutMs: 2_000,
      what: "the refused attempt to be counted",
    });
    // Give a stray ControlRequest time to arrive before asserting there was none.
    await Bun.sleep(200);
    expect(h.gwLogs.find(GATEWAY_BLOCK_LINE)).toHaveLength(1);

    const status = h.agent.status();
    expect(status.denyListSize).toBe(1);
    expect(status.sessionsTotal).toBe(1); // the refused attempt never became a session
    expect(status.sessions).toHaveLength(0);
    expect(status.control.state).toBe("ready");

    const denied = h.agentLogs.find(AGENT_BLOCK_LINE);
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ level: "info", device_ip: "127.0.0.1", ttl_seconds: 1200 });
    expect(h.agentLogs.find("refused a deny-listed device")).toHaveLength(1);
  }, 15_000);

  test("a known router relays while another address is deny-listed", async () => {
    const daemonGot: Buffer[] = [];
    const daemon = await startDaemon((socket) => {
      socket.on("data", (d: Buffer) => {
        daemonGot.push(d);
        socket.write(Buffer.from(`echo:${d.toString()}`));
      });
      socket.on("error", () => {});
    });
    cleanups.push(() => daemon.server.close());
    const h = await start([forwardDevice("127.0.0.2", daemon.port)]);

    const blocked = await connectRouter(h.routerPort, "127.0.0.1");
    await within(blocked.closed, 5_000, "the agent to close the unknown router");
    await waitUntil(() => h.agent.status().denyListSize === 1, {
      timeoutMs: 2_000,
      what: "the agent to deny-list 127.0.0.1",
    });

    const known = await connectRouter(h.routerPort, "127.0.0.2");
    known.socket.write("hello");
    await waitUntil(() => Buffer.concat(known.received).toString() === "echo:hello", {
      timeoutMs: 5_000,
      what: "the daemon's answer to reach the known router",
    });
    expect(Buffer.concat(daemonGot).toString()).toBe("hello");
    const status = h.agent.status();
    expect(status.sessions).toHaveLength(1);
    expect(status.sessions[0]?.tuple.deviceIp).toBe("127.0.0.2");
    expect(status.sessions[0]?.state).toBe("relaying");
    expect(status.denyListSize).toBe(1);
    expect(h.gwLogs.find(GATEWAY_BLOCK_LINE)).toHaveLength(1);
    expect(h.agentLogs.find(AGENT_BLOCK_LINE)).toHaveLength(1);

    // The blocked address stays refused while the known router's session goes on.
    const again = await connectRouter(h.routerPort, "127.0.0.1");
    await within(again.closed, 2_000, "the agent to refuse the deny-listed router");
    known.socket.write("still");
    await waitUntil(() => Buffer.concat(known.received).toString().endsWith("echo:still"), {
      timeoutMs: 5_000,
      what: "the known router's session to carry on",
    });
    expect(h.agent.status().blockedAttempts).toBe(1);
  }, 15_000);

  test("simultaneous connections from an unknown router: all closed, deny-listed and logged once", async () => {
    const h = await start([]);
    const routers = await Promise.all([1, 2, 3].map(() => connectRouter(h.routerPort)));
    await within(
      Promise.all(routers.map((r) => r.closed)),
      5_000,
      "the agent to close every connection of the unknown router",
    );
    await waitUntil(() => h.agent.status().denyListSize === 1, {
      timeoutMs: 2_000,
      what: "the agent to deny-list 127.0.0.1",
    });
    // Each connection was in flight before the block came back, so each was asked about...
    const asked = h.gwLogs.find(GATEWAY_BLOCK_LINE).length;
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(asked).toBeLessThanOrEqual(3);
    // ...but one block is one deny-list entry and one log line.
    expect(h.agentLogs.find(AGENT_BLOCK_LINE)).toHaveLength(1);
    expect(h.agent.status().sessions).toHaveLength(0);
    for (const r of routers) expect(Buffer.concat(r.received).length).toBe(0);
  }, 15_000);
});
