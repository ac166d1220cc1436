/**
 * Resume after a lost Data stream: the agent–gateway link is reset at random while a router
 * and a daemon exchange checksummed byte streams through agent and gateway. Every reset
 * loses the Data stream (and whatever was in flight on it); the agent re-opens the session
 * with its counters, the gateway re-attaches it to the daemon connection it held, and the
 * replay buffers send again what the other side lacks. Both directions must arrive intact,
 * in order, with no byte lost or repeated, over one router and one daemon connection.
 */
import { describe, expect, test } from "bun:test";
import { startAgent } from "../../src/agent/agent.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { pacedRouter, startPacedDaemon } from "../support/paced-exchange.ts";
import { agentConfig, forwardDevice, gatewayConfig, prng, testLogger } from "../support/stack.ts";
import { tcpLink } from "../support/tcp-link.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const TOTAL = 6 * 1024 * 1024;

const cleanups = cleanupsAfterEach();

// A replay limit far below the transfer: only acknowledgements keep a resume possible.
const resume = { windowMs: 10_000, limitBytes: 512 * 1024 };

describe("resume after a lost Data stream", () => {
  for (const seed of [11, 12]) {
    test(`seed ${seed}: random link resets lose, repeat and reorder nothing`, async () => {
      const daemon = await startPacedDaemon(seed * 7, TOTAL);
      cleanups.push(() => daemon.server.close());
      const logger = testLogger();
      const gateway = await startGateway(
        gatewayConfig({
          devices: [forwardDevice("127.0.0.1", daemon.port)],
          resume: { ...resume, windowMs: 30_000 },
        }),
        logger,
      );
      cleanups.push(() => gateway.close());
      const link = await tcpLink(gateway.port);
      cleanups.push(() => link.close());
      const agent = await startAgent(agentConfig(link.port, { resume }), logger);
      cleanups.push(() => agent.close());
      await waitUntil(() => agent.status().control.state === "ready", {
        timeoutMs: 5_000,
        what: "the control stream",
      });

      const router = await pacedRouter(agent.listening[0]?.port ?? 0, seed, TOTAL);
      cleanups.push(() => router.socket.destroy());

      // Reset the link every 150–400 ms while the router sends (at most 12 times).
      const rand = prng(seed + 100);
      let cuts = 0;
      await waitUntil(() => daemon.connections() === 1, { timeoutMs: 5_000, what: "the daemon" });
      while (router.sending && cuts < 12) {
        await Bun.sleep(150 + Math.floor(rand() * 250));
        link.cut();
        cuts++;
      }

      const diagnostics = () => JSON.stringify({ cuts, sessions: agent.status().sessions });
      const atRouter = await Promise.race([
        router.received,
        Bun.sleep(30_000).then(() => {
          throw new Error(`the router's stream did not end: ${diagnostics()}`);
        }),
      ]);
      const atDaemon = await daemon.side().received;
      expect(cuts).toBeGreaterThanOrEqual(3);
      expect(atDaemon.bytes).toBe(TOTAL);
      expect(atDaemon.digest).toBe(await router.sent);
      expect(atRouter.bytes).toBe(TOTAL);
      expect(atRouter.digest).toBe(await daemon.side().sent);
      expect(daemon.connections()).toBe(1);
      expect(agent.status().sessionsTotal).toBe(1);
    }, 60_000);
  }
});
