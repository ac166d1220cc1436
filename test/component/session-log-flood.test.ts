/**
 * A flood of router connections (connect, send nothing, close) through agent and gateway:
 * the journal gets the first sessions' lines and then one notice per interval, not a
 * handful of lines for every connection.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { startAgent } from "../../src/agent/agent.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

describe("a flood of router connections", () => {
  test("does not drown the journal", async () => {
    const daemon = await startDaemon((socket) => {
      socket.on("error", () => {});
      socket.on("end", () => socket.end());
      socket.resume();
    });
    cleanups.push(() => daemon.server.close());
    const logs = captureLogs();
    const budget = { perInterval: 5, intervalMs: 60_000 };
    const gateway = await startGateway(
      gatewayConfig({ devices: [forwardDevice("127.0.0.1", daemon.port)] }),
      logs.logger,
      { sessionLog: budget },
    );
    cleanups.push(() => gateway.close());
    const agent = await startAgent(agentConfig(gateway.port), logs.logger, { sessionLog: budget });
    cleanups.push(() => agent.close());
    await waitUntil(() => agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the control stream",
    });
    const port = agent.listening[0]?.port ?? 0;
    const before = logs.records().filter((r) => r.level !== "debug").length;
    const n = 60;
    for (let i = 0; i < n; i++) {
      await new Promise<void>((resolve) => {
        const s = connect({ host: "127.0.0.1", port }, () => {
          setTimeout(() => s.destroy(), 20);
        });
        s.on("error", () => resolve());
        s.on("close", () => resolve());
      });
    }
    await waitUntil(() => agent.status().sessions.length === 0, {
      timeoutMs: 10_000,
      what: "every session to end",
      diagnostics: () => JSON.stringify(agent.status().sessions.map((s) => s.state)),
    });
    await Bun.sleep(200);
    const lines = logs.records().filter((r) => r.level !== "debug");
    const added = lines.length - before;
    // Five sessions' worth of lines on each side, plus a notice per side; without the
    // budget this was more than 4 lines per connection (240+).
    expect(added).toBeLessThan(80);
    expect(logs.find(/over the log budget/).length).toBeGreaterThanOrEqual(1);
    expect(logs.records().filter((r) => r.level === "debug").length).toBeGreaterThan(n);
  }, 30_000);
});
