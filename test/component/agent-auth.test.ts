/**
 * Agent credentials against a real gateway: a refused token puts the Control stream in a
 * long backoff (no retry storm) with a clear error, and neither side ever logs the token.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { REDACTED } from "../../src/core/logger.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import {
  agentConfig,
  forwardDevice,
  gatewayConfig,
  startDaemon,
  TEST_TOKEN,
} from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const WRONG_TOKEN = "wr0ng-t0ken-must-not-leak-7f3a";

const cleanups = cleanupsAfterEach();

interface Harness {
  gateway: RunningGateway;
  agent: RunningAgent;
  gwLogs: LogCapture;
  agentLogs: LogCapture;
}

async function start(token: string, daemonPort = 9): Promise<Harness> {
  const gwLogs = captureLogs();
  const agentLogs = captureLogs();
  const gateway = await startGateway(
    gatewayConfig({ devices: [forwardDevice("127.0.0.1", daemonPort)] }),
    gwLogs.logger,
  );
  cleanups.push(() => gateway.close());
  const agent = await startAgent(agentConfig(gateway.port, { token }), agentLogs.logger);
  cleanups.push(() => agent.close());
  return { gateway, agent, gwLogs, agentLogs };
}

/** No captured line, raw or parsed, carries the token or a fragment of it. */
function expectNoSecret(logs: LogCapture, secret: string): void {
  expect(logs.lines.length).toBeGreaterThan(0);
  for (const line of logs.lines) {
    expect(line).not.toContain(secret);
    expect(line).not.toContain(Buffer.from(secret).toString("base64"));
    expect(() => JSON.parse(line)).not.toThrow();
  }
}

describe("agent credentials", () => {
  test("a refused token backs off without a tight retry loop and is never logged", async () => {
    const h = await start(WRONG_TOKEN);
    await waitUntil(() => h.agent.status().control.state === "backoff", {
      timeoutMs: 5_000,
      what: "the control stream to back off after the refusal",
    });
    const status = h.agent.status().control;
    expect(status.lastError).toMatch(/credentials/i);
    expect(status.reconnects).toBe(1);
    expect(status.connected).toBe(false);

    // Watch for 1.5 s: still one attempt, still backing off, the gateway refused only once.
    await Bun.sleep(1_500);
    const later = h.agent.status().control;
    expect(later.reconnects).toBe(1);
    expect(later.state).toBe("backoff");
    expect(h.gwLogs.find("refused an agent: invalid credentials")).toHaveLength(1);
    expect(h.gateway.agents.all()).toHaveLength(0);

    const refusal = h.agentLogs.find(/refused the agent's credentials/);
    expect(refusal).toHaveLength(1);
    expect(refusal[0]?.level).toBe("error");
    expect(Number(refusal[0]?.retry_in_ms)).toBeGreaterThanOrEqual(10_000);

    expectNoSecret(h.agentLogs, WRONG_TOKEN);
    expectNoSecret(h.gwLogs, WRONG_TOKEN);
  }, 15_000);

  test("the right token gets a ready stream, and a relayed session logs no token", async () => {
    const daemon = await startDaemon((socket) => {
      socket.on("data", (d: Buffer) => socket.write(d));
      socket.on("error", () => {});
    });
    cleanups.push(() => daemon.server.close());
    const h = await start(TEST_TOKEN, daemon.port);
    await waitUntil(() => h.agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the control stream to be ready",
    });
    expect(h.agent.status().control.reconnects).toBe(0);
    expect(h.agent.status().control.lastError).toBeUndefined();
    expect(h.gateway.agents.all()).toHaveLength(1);

    // A Data stream carries the token in its metadata too, and is logged with that metadata.
    const router = connect({ host: "127.0.0.1", port: h.agent.listening[0]?.port ?? 0 });
    cleanups.push(() => router.destroy());
    router.on("error", () => {});
    let echoed = "";
    router.on("data", (d: Buffer) => {
      echoed += d.toString();
    });
    router.write("ping");
    await waitUntil(() => echoed === "ping", {
      timeoutMs: 5_000,
      what: "the daemon's echo to reach the router",
    });
    const opening = h.agentLogs.find("opening Data stream");
    expect(opening).toHaveLength(1);
    // The call metadata is logged, with both token headers redacted.
    expect(opening[0]?.["client-metadata"]).toMatchObject({
      "x-ch-auth-email": ["ops@example.net"],
      "x-ch-auth-api-token": REDACTED,
      "x-ch-auth-token": REDACTED,
    });
    expect(h.gwLogs.find("relaying session")).toHaveLength(1);
    expectNoSecret(h.agentLogs, TEST_TOKEN);
    expectNoSecret(h.gwLogs, TEST_TOKEN);
  }, 15_000);
});
