/**
 * A stalled transport between agent and gateway (a paused TCP link: nothing arrives,
 * nothing is refused) for longer than the router's hold time: the agent sends the router
 * KEEPALIVEs in the far end's place, so the router's session survives. The collector's
 * hold timer expires meanwhile (it heard nothing of the router either); when the link
 * comes back its NOTIFICATION is dropped, the stream's end is bridged, and a new collector
 * session gets the router's table through a ROUTE-REFRESH. A shorter stall ends with the
 * far end's own KEEPALIVEs flowing again: nothing bridged, the same collector session.
 */
import { describe, expect, test } from "bun:test";
import { startAgent } from "../../src/agent/agent.ts";
import { MessageType } from "../../src/bgp/constants.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import {
  collectorPrefixes,
  LOOPBACK_DEVICE,
  ScriptedRouter,
  waitForRefreshedTable,
} from "../support/scripted-router.ts";
import { agentConfig, gatewayConfig, testLogger } from "../support/stack.ts";
import { tcpLink } from "../support/tcp-link.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefixesOf = collectorPrefixes;
const DEVICE = LOOPBACK_DEVICE;

/** Router (hold `holdTime` s, KEEPALIVEs of its own) → agent → paused link → gateway. */
async function setUp(holdTime: number) {
  const gateway = await startGateway(
    gatewayConfig({
      devices: [DEVICE],
      collector: { asn: 64512, routerId: "192.0.2.1", holdTime },
    }),
    testLogger(),
  );
  cleanups.push(() => gateway.close());
  const link = await tcpLink(gateway.port);
  cleanups.push(() => link.close());
  const agent = await startAgent(agentConfig(link.port), testLogger());
  cleanups.push(() => agent.close());
  const router = new ScriptedRouter(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"], {
    holdTime,
    keepalives: true,
  });
  cleanups.push(() => router.destroy());
  await waitUntil(() => prefixesOf(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });
  return { gateway, link, agent, router };
}

describe("a stalled transport longer than the router's hold time", () => {
  test("the router's session survives on the agent's KEEPALIVEs; the far end's expiry is bridged", async () => {
    const { gateway, link, agent, router } = await setUp(3);
    const collectorSession = gateway.registry.all()[0]?.sessionsTotal;
    const stalledAt = Date.now();
    link.pause();
    await sleep(7_000); // over twice the hold time
    // Never 3 s without a message: the router's hold timer would not have expired.
    expect(router.longestSilenceSince(stalledAt)).toBeLessThan(3_000);
    expect(agent.status().sessions[0]?.bridge?.keepalivesSent).toBeGreaterThanOrEqual(4);
    expect(agent.status().sessions[0]?.state).toBe("relaying");
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    link.resume();
    await waitForRefreshedTable(router, gateway, 1);
    // The collector's Hold Timer Expired never reached the router.
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(router.count(MessageType.OPEN)).toBe(1);
    expect(router.socket.destroyed).toBe(false);
    expect(agent.status().sessions[0]?.bridge).toMatchObject({
      bridged: 1,
      resumed: 1,
      stallsCovered: 1,
    });
    expect(agent.status().sessionsTotal).toBe(1);
    expect(gateway.registry.all()[0]?.sessionsTotal).toBe((collectorSession ?? 0) + 1);
  }, 30_000);

  test("a stall shorter than the far end's hold time: covered, then the far end flows again", async () => {
    const { gateway, link, agent, router } = await setUp(9);
    const stalledAt = Date.now();
    link.pause();
    // The cover starts 4.5 s after the far end's last KEEPALIVE (at most 3 s before the
    // stall); the collector last heard the router at most 3 s before it: 3 + 6 < 9 s.
    await sleep(6_000);
    expect(agent.status().sessions[0]?.bridge?.keepalivesSent).toBeGreaterThanOrEqual(1);
    link.resume();
    await sleep(4_000);
    expect(router.longestSilenceSince(stalledAt)).toBeLessThan(9_000);
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(router.count(MessageType.ROUTE_REFRESH)).toBe(0);
    expect(agent.status().sessions[0]?.bridge?.bridged).toBe(0);
    expect(gateway.registry.all()[0]?.established).toBe(true);
    expect(prefixesOf(gateway)).toBe(1);
  }, 30_000);
});
