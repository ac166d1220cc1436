/**
 * A graceful gateway stop with agents connected: the gateway ends their Control streams
 * itself, so grpc-js's graceful shutdown completes without being forced (it used to wait
 * for the long-lived Control streams until its 2 s bound); the agents see their Control
 * stream end and try again.
 */
import { describe, expect, test } from "bun:test";
import { startAgent } from "../../src/agent/agent.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs } from "../support/log-capture.ts";
import { collectorPrefixes, LOOPBACK_DEVICE, ScriptedRouter } from "../support/scripted-router.ts";
import { agentConfig, gatewayConfig, testLogger } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

describe("a graceful gateway stop", () => {
  test("ends the agents' Control streams: the shutdown is not forced", async () => {
    const logs = captureLogs();
    const resume = { windowMs: 30_000, limitBytes: 4 * 1024 * 1024 };
    const gateway = await startGateway(
      gatewayConfig({ resume, devices: [LOOPBACK_DEVICE] }),
      logs.logger,
    );
    // One agent with resume on (its acknowledgement streams end with its sessions).
    const agents = await Promise.all([
      startAgent(agentConfig(gateway.port), testLogger()),
      startAgent(
        agentConfig(gateway.port, { resume: { ...resume, windowMs: 2_000 } }),
        testLogger(),
      ),
    ]);
    for (const agent of agents) cleanups.push(() => agent.close());
    await waitUntil(() => agents.every((a) => a.status().control.state === "ready"), {
      timeoutMs: 5_000,
      what: "both agents' Control streams ready",
    });
    expect(logs.find("agent connected")).toHaveLength(2);
    // A session through it: drained (RESTART) before the streams are ended.
    const router = new ScriptedRouter(agents[1]?.listening[0]?.port ?? 0, ["198.51.100.0/24"]);
    cleanups.push(() => router.destroy());
    await waitUntil(() => collectorPrefixes(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    const t0 = performance.now();
    await gateway.close();
    const ms = performance.now() - t0;
    const stopped = logs.find("gateway stopped");
    expect(stopped).toHaveLength(1);
    // Not forced: the 2 s bound did not fire (it would add forced_after_ms).
    expect(stopped[0]?.forced_after_ms).toBeUndefined();
    expect(ms).toBeLessThan(1_500);
    expect(logs.find("agent disconnected")).toHaveLength(2);
    await waitUntil(() => agents.every((a) => a.status().control.state !== "ready"), {
      timeoutMs: 5_000,
      what: "both agents to see their Control stream end",
    });
  }, 20_000);
});
