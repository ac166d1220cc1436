/**
 * Graceful RESTART (wire contract) with re-attach: a router and a daemon exchange
 * checksummed byte streams through a real agent and gateway while RESTARTs, started by the
 * gateway (restart-streams, no drain) or by the agent (POST /admin/restart), move the
 * session to new Data streams. The gateway holds the daemon connection across each
 * exchange and re-attaches it: both directions arrive intact, in order, with no byte lost
 * or repeated, over one router and one daemon connection. Resume after a lost stream is off
 * on the agent: a RESTART needs no replay buffer.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { startAgent } from "../../src/agent/agent.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { receiveAll, sendPaced } from "../support/byte-digest.ts";
import {
  agentConfig,
  forwardDevice,
  gatewayConfig,
  startDaemon,
  testLogger,
} from "../support/stack.ts";
import { waitUntil } from "../support/wait.ts";

const TOTAL = 4 * 1024 * 1024;
const RESTARTS = 4;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Starter = "gateway" | "agent";

async function restartStack(agentOverrides: Partial<AgentConfig> = {}) {
  let daemonConnections = 0;
  let daemonSide!: { received: Promise<{ digest: string; bytes: number }>; sent: Promise<string> };
  const daemon = await startDaemon((socket) => {
    daemonConnections++;
    const received = receiveAll(socket);
    daemonSide = { received, sent: sendPaced(socket, 77, TOTAL, received) };
  });
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
    daemonConnections: () => daemonConnections,
    daemonSide: () => daemonSide,
  };
}

describe("graceful RESTART re-attaches the held far end", () => {
  for (const starter of ["gateway", "agent"] as Starter[]) {
    test(`started by the ${starter}: nothing lost, repeated or reordered; one daemon connection`, async () => {
      const { gateway, agent, daemonConnections, daemonSide } = await restartStack();
      const router = connect({
        host: "127.0.0.1",
        port: agent.listening[0]?.port ?? 0,
        allowHalfOpen: true,
      });
      cleanups.push(() => router.destroy());
      await new Promise((r) => router.once("connect", r));
      const routerGot = receiveAll(router);
      let sending = true;
      const routerSent = sendPaced(router, 5, TOTAL).finally(() => {
        sending = false;
      });
      await waitUntil(() => daemonConnections() === 1, { timeoutMs: 5_000, what: "the daemon" });

      let restarts = 0;
      while (sending && restarts < RESTARTS) {
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
        await waitUntil(() => agent.status().sessions[0]?.resumes === restarts || !sending, {
          timeoutMs: 5_000,
          what: `re-attach ${restarts}`,
        });
        if (agent.status().sessions[0]?.resumes !== restarts) restarts--;
      }

      const atRouter = await Promise.race([
        routerGot,
        Bun.sleep(30_000).then(() => {
          throw new Error(`the router's stream did not end: ${JSON.stringify(agent.status())}`);
        }),
      ]);
      const atDaemon = await daemonSide().received;
      expect(restarts).toBeGreaterThanOrEqual(2);
      expect(atDaemon.bytes).toBe(TOTAL);
      expect(atDaemon.digest).toBe(await routerSent);
      expect(atRouter.bytes).toBe(TOTAL);
      expect(atRouter.digest).toBe(await daemonSide().sent);
      expect(daemonConnections()).toBe(1);
      expect(agent.status().sessionsTotal).toBe(1);
    }, 60_000);
  }
});
