/**
 * Graceful RESTART (wire contract) with re-attach: a router and a daemon exchange
 * checksummed byte streams through a real agent and gateway while RESTARTs, started by the
 * gateway (restart-streams, no drain) or by the agent (POST /admin/restart), move the
 * session to new Data streams. The gateway holds the daemon connection across each
 * exchange and re-attaches it: both directions arrive intact, in order, with no byte lost
 * or repeated, over one router and one daemon connection. Resume after a lost stream is off
 * on the agent: a RESTART needs no replay buffer.
 */
import { describe, expect, test } from "bun:test";
import { startAgent } from "../../src/agent/agent.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { pacedRouter, startPacedDaemon } from "../support/paced-exchange.ts";
import { agentConfig, forwardDevice, gatewayConfig, testLogger } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const TOTAL = 4 * 1024 * 1024;
const RESTARTS = 4;

const cleanups = cleanupsAfterEach();

type Starter = "gateway" | "agent";

async function restartStack(agentOverrides: Partial<AgentConfig> = {}) {
  const daemon = await startPacedDaemon(77, TOTAL);
  cleanups.push(() => daemon.server.close());
  const logger = testLogger();
  const gateway = await startGateway(
    gatewayConfig({
      devices: [forwardDevice("127.0.0.1", daemon.port)],
      resume: { windowMs: 30_000, limitBytes: 4 * 1024 * 1024 },
    }),
    logger,
  );
  cleanups.push(() => gateway.close());
  const agent = await startAgent(agentConfig(gateway.port, agentOverrides), logger);
  cleanups.push(() => agent.close());
  await waitUntil(() => agent.status().control.state === "ready", {
    timeoutMs: 5_000,
    what: "the control stream",
  });
  return {
    gateway,
    agent,
    daemonConnections: daemon.connections,
    daemonSide: daemon.side,
  };
}

describe("graceful RESTART re-attaches the held far end", () => {
  for (const starter of ["gateway", "agent"] as Starter[]) {
    test(`started by the ${starter}: nothing lost, repeated or reordered; one daemon connection`, async () => {
      const { gateway, agent, daemonConnections, daemonSide } = await restartStack();
      const router = await pacedRouter(agent.listening[0]?.port ?? 0, 5, TOTAL);
      cleanups.push(() => router.socket.destroy());
      await waitUntil(() => daemonConnections() === 1, { timeoutMs: 5_000, what: "the daemon" });

      let restarts = 0;
      while (router.sending && restarts < RESTARTS) {
        await Bun.sleep(200);
        if (agent.status().sessions[0]?.state !== "relaying") continue;
        const asked =
          starter === "gateway"
            ? await (
                await fetch(`http://127.0.0.1:${gateway.httpPort}/admin/restart-streams`, {
                  method: "POST",
                })
              ).json()
            : await (
                await fetch(`http://127.0.0.1:${agent.metricsPort}/admin/restart`, {
                  method: "POST",
                })
              ).json();
        // Once a side has sent its FIN (the transfer's end) the stream cannot restart.
        if ((asked as { sessions: number }).sessions === 0) break;
        expect(asked).toEqual({ kind: "restarting", sessions: 1 });
        restarts++;
        // A RESTART that crosses the router's FIN (end of the transfer) is void.
        await waitUntil(() => agent.status().sessions[0]?.resumes === restarts || !router.sending, {
          timeoutMs: 5_000,
          what: `re-attach ${restarts}`,
        });
        if (agent.status().sessions[0]?.resumes !== restarts) restarts--;
      }

      const atRouter = await Promise.race([
        router.received,
        Bun.sleep(30_000).then(() => {
          throw new Error(`the router's stream did not end: ${JSON.stringify(agent.status())}`);
        }),
      ]);
      const atDaemon = await daemonSide().received;
      expect(restarts).toBeGreaterThanOrEqual(2);
      expect(atDaemon.bytes).toBe(TOTAL);
      expect(atDaemon.digest).toBe(await router.sent);
      expect(atRouter.bytes).toBe(TOTAL);
      expect(atRouter.digest).toBe(await daemonSide().sent);
      expect(daemonConnections()).toBe(1);
      expect(agent.status().sessionsTotal).toBe(1);
    }, 60_000);
  }
});
