/**
 * A bridged session's redial (src/agent/bridge-redial.ts) ends with the session: whatever
 * ends it while the next Data stream attempt waits (the router closing its connection, the
 * agent shutting down), that attempt's timer is cancelled. A real agent on a ManualClock, a
 * real gateway with its collector, a scripted router. (Checked: without `redial.cancel()` in
 * RouterSession.finish(), the one place that cancels it, both tests fail.)
 */
import { describe, expect, test } from "bun:test";
import { startAgent } from "../../src/agent/agent.ts";
import { BRIDGE_REDIAL_MS } from "../../src/agent/bridge-redial.ts";
import type { Clock, TimerHandle } from "../../src/core/clock.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { collectorPrefixes, LOOPBACK_DEVICE, ScriptedRouter } from "../support/scripted-router.ts";
import { agentConfig, gatewayConfig, testLogger } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface LoggedTimer {
  readonly ms: number;
  cancelled: boolean;
  fired: boolean;
}

/** A ManualClock that keeps a log of the timers scheduled on it. */
class TimerLog extends ManualClock implements Clock {
  readonly log: LoggedTimer[] = [];
  override schedule(ms: number, fn: () => void): TimerHandle {
    const timer: LoggedTimer = { ms, cancelled: false, fired: false };
    this.log.push(timer);
    const handle = super.schedule(ms, () => {
      timer.fired = true;
      fn();
    });
    return {
      cancel: () => {
        timer.cancelled = true;
        handle.cancel();
      },
    };
  }
}

/** A session bridged after its gateway went away, its first redial waiting on `clock`. */
async function bridgedSession() {
  const gateway = await startGateway(gatewayConfig({ devices: [LOOPBACK_DEVICE] }), testLogger());
  let gatewayOpen = true;
  cleanups.push(() => (gatewayOpen ? gateway.close() : undefined));
  const clock = new TimerLog();
  const agent = await startAgent(agentConfig(gateway.port), testLogger(), { clock });
  let agentOpen = true;
  cleanups.push(() => (agentOpen ? agent.close() : undefined));
  const router = new ScriptedRouter(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"]);
  cleanups.push(() => router.socket.destroy());
  await waitUntil(() => collectorPrefixes(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });
  const before = clock.log.length;
  gatewayOpen = false;
  await gateway.close();
  await waitUntil(() => agent.status().sessions[0]?.state === "bridging", {
    timeoutMs: 5_000,
    what: "the agent's session to be bridging",
  });
  const redials = () =>
    clock.log.slice(before).filter((t) => t.ms === BRIDGE_REDIAL_MS.first && !t.fired);
  expect(redials()).toHaveLength(1);
  expect(redials()[0]?.cancelled).toBe(false);
  const closeAgent = async () => {
    agentOpen = false;
    await agent.close();
  };
  return { agent, router, redials, closeAgent };
}

describe("a bridged session's redial ends with the session", () => {
  test("the router closes its connection: the waiting attempt is cancelled", async () => {
    const s = await bridgedSession();
    s.router.socket.destroy();
    await waitUntil(() => s.agent.status().sessions.length === 0, {
      timeoutMs: 5_000,
      what: "the session to end",
    });
    expect(s.redials().map((t) => t.cancelled)).toEqual([true]);
  }, 15_000);

  test("the agent shuts down: the waiting attempt is cancelled", async () => {
    const s = await bridgedSession();
    await s.closeAgent();
    expect(s.redials().map((t) => t.cancelled)).toEqual([true]);
  }, 15_000);
});
