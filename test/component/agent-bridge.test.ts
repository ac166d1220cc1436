/**
 * BGP-aware bridging with a real agent and real gateways: a scripted router's session
 * with the built-in collector stays up while the gateway is closed and a new one is
 * started on the same port; the new collector gets the router's OPEN again and, through a
 * ROUTE-REFRESH, its whole table. Without route refresh the router's session ends as
 * before; with no gateway coming back the bridge gives up with a Cease.
 */
import { describe, expect, test } from "bun:test";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { MessageType } from "../../src/bgp/constants.ts";
import { decodeNotification } from "../../src/bgp/notification.ts";
import { decodeRouteRefresh } from "../../src/bgp/route-refresh.ts";
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
import { waitUntil, within } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

const DEVICE = LOOPBACK_DEVICE;

/** A scripted router (test/support/scripted-router.ts), destroyed after the test. */
class Router extends ScriptedRouter {
  constructor(port: number, prefixes: string[], routeRefresh = true) {
    super(port, prefixes, { routeRefresh });
    cleanups.push(() => this.destroy());
  }
}

/**
 * The router's one session was bridged once onto a new far end: no NOTIFICATION, its
 * connection open, nothing re-attached.
 */
function expectBridgedOnce(agent: RunningAgent, router: ScriptedRouter): void {
  expect(router.count(MessageType.NOTIFICATION)).toBe(0);
  expect(router.socket.destroyed).toBe(false);
  expect(agent.status().sessions[0]?.resumes ?? 0).toBe(0);
  expect(agent.status().sessions[0]?.bridge?.bridged).toBe(1);
  expect(agent.status().sessionsTotal).toBe(1);
}

async function setUp(bridgeTimeoutMs = 300_000) {
  const first = await startGateway(gatewayConfig({ devices: [DEVICE] }), testLogger());
  let firstOpen = true;
  cleanups.push(() => (firstOpen ? first.close() : undefined));
  const agent: RunningAgent = await startAgent(
    agentConfig(first.port, { bridgeTimeoutMs }),
    testLogger(),
  );
  cleanups.push(() => agent.close());
  const closeFirst = async () => {
    firstOpen = false;
    await first.close();
  };
  return { first, agent, closeFirst, routerPort: agent.listening[0]?.port ?? 0 };
}

const prefixesOf = collectorPrefixes;

describe("BGP-aware bridging across a gateway restart", () => {
  test("the router's session stays up; the new collector gets the whole table through a route refresh", async () => {
    const { first, agent, closeFirst, routerPort } = await setUp();
    const router = new Router(routerPort, ["198.51.100.0/24", "203.0.113.0/24"]);
    await waitUntil(() => prefixesOf(first) === 2, { timeoutMs: 5_000, what: "2 prefixes" });
    const keepalivesBefore = router.count(MessageType.KEEPALIVE);

    await closeFirst();
    await waitUntil(() => agent.status().sessions[0]?.state === "bridging", {
      timeoutMs: 5_000,
      what: "the agent's session to be bridging",
    });
    // The bridge answers for the gone far end at once.
    await waitUntil(() => router.count(MessageType.KEEPALIVE) > keepalivesBefore, {
      timeoutMs: 2_000,
      what: "a KEEPALIVE from the bridge",
    });
    const admin = async (path: string) =>
      (await fetch(`http://127.0.0.1:${agent.metricsPort}${path}`)).text();
    const listed = JSON.parse(await admin("/admin/sessions")) as {
      Sessions: { Connected: boolean; Bridging?: boolean }[];
    };
    expect(listed.Sessions).toMatchObject([{ Connected: false, Bridging: true }]);
    expect(await admin("/metrics")).toContain("bgproxy_agent_sessions_bridging 1\n");
    // The router changes its table while bridged: that UPDATE is dropped, the refresh resends it.
    router.prefixes = [...router.prefixes, "192.0.2.0/24"];
    router.announce();
    await waitUntil(() => agent.status().sessions[0]?.bridge?.routerUpdatesDropped === 1, {
      timeoutMs: 2_000,
      what: "the router's UPDATE to be dropped",
    });

    const second = await startGateway(
      gatewayConfig({ devices: [DEVICE], listen: { host: "127.0.0.1", port: first.port } }),
      testLogger(),
    );
    cleanups.push(() => second.close());
    await waitUntil(() => router.count(MessageType.ROUTE_REFRESH) === 1, {
      timeoutMs: 15_000,
      what: "a ROUTE-REFRESH to the router",
    });
    const rr = router.received.find((m) => m.type === MessageType.ROUTE_REFRESH);
    expect(rr && decodeRouteRefresh(rr.body)).toEqual({ afi: 1, safi: 1, subtype: 0 });
    await waitUntil(() => second.registry.all()[0]?.established && prefixesOf(second) === 3, {
      timeoutMs: 5_000,
      what: "the new collector Established with the router's 3 prefixes",
    });
    expect(router.socket.destroyed).toBe(false);
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(router.count(MessageType.OPEN)).toBe(1);
    expect(agent.status().sessions[0]?.state).toBe("relaying");
    expect(agent.status().sessionsTotal).toBe(1);
    const metrics = await admin("/metrics");
    for (const line of [
      "bgproxy_agent_sessions_bridging 0",
      "bgproxy_agent_bridged_total 1",
      "bgproxy_agent_bridge_resumes_total 1",
      "bgproxy_agent_route_refreshes_sent_total 1",
      "bgproxy_agent_bridge_dropped_updates_total 1",
    ]) {
      expect(metrics).toContain(`${line}\n`);
    }
  }, 30_000);

  test("a drain sends RESTART: the agent answers, bridges, and resumes on the next gateway", async () => {
    const { first, agent, closeFirst, routerPort } = await setUp();
    const router = new Router(routerPort, ["198.51.100.0/24", "203.0.113.0/24"]);
    await waitUntil(() => prefixesOf(first) === 2, { timeoutMs: 5_000, what: "2 prefixes" });
    const res = await fetch(`http://127.0.0.1:${first.httpPort}/admin/drain`, { method: "POST" });
    expect(await res.json()).toEqual({ kind: "draining", sessions: 1 });
    // The agent answered the RESTART: the gateway's session ended at once, not at a timeout.
    await waitUntil(() => first.sessions.size === 0, { timeoutMs: 2_000, what: "no session left" });
    await waitUntil(() => agent.status().sessions[0]?.state === "bridging", {
      timeoutMs: 2_000,
      what: "the agent's session to be bridging",
    });
    // A draining gateway refuses new streams: the session stays bridged until the next one.
    await new Promise((r) => setTimeout(r, 600));
    expect(first.sessions.size).toBe(0);
    expect(agent.status().sessions[0]?.bridge?.resumed).toBe(0);
    const stopping = Date.now();
    await closeFirst();
    expect(Date.now() - stopping).toBeLessThan(5_000);
    const second = await startGateway(
      gatewayConfig({ devices: [DEVICE], listen: { host: "127.0.0.1", port: first.port } }),
      testLogger(),
    );
    cleanups.push(() => second.close());
    await waitUntil(() => second.registry.all()[0]?.established && prefixesOf(second) === 2, {
      timeoutMs: 15_000,
      what: "the next gateway's collector Established with the router's 2 prefixes",
    });
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(router.count(MessageType.ROUTE_REFRESH)).toBe(1);
    expect(router.socket.destroyed).toBe(false);
  }, 30_000);

  test("a router without route refresh is closed when the gateway goes, as without bridging", async () => {
    const { first, closeFirst, routerPort } = await setUp();
    const router = new Router(routerPort, ["198.51.100.0/24"], false);
    await waitUntil(() => prefixesOf(first) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    await closeFirst();
    await within(router.closed, 5_000, "the router's connection to close");
  }, 15_000);

  test("with no gateway coming back, the bridge gives up: Cease/Administrative Reset", async () => {
    const { first, closeFirst, routerPort } = await setUp(1_500);
    const router = new Router(routerPort, ["198.51.100.0/24"]);
    await waitUntil(() => prefixesOf(first) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    await closeFirst();
    await within(router.closed, 8_000, "the router's connection to close");
    const n = router.received.find((m) => m.type === MessageType.NOTIFICATION);
    expect(n && decodeNotification(n.body)).toMatchObject({ code: 6, subcode: 4 });
  }, 15_000);
});

describe("resume before bridging", () => {
  const resume = { windowMs: 2_000, limitBytes: 4 * 1024 * 1024 };

  /** Gateway (resume grace `graceMs`) behind a tcpLink, agent (resume `windowMs`), router with 1 prefix. */
  async function resumeStack(graceMs: number, windowMs = resume.windowMs) {
    const gateway = await startGateway(
      gatewayConfig({ devices: [DEVICE], resume: { ...resume, windowMs: graceMs } }),
      testLogger(),
    );
    cleanups.push(() => gateway.close());
    const link = await tcpLink(gateway.port);
    cleanups.push(() => link.close());
    const agent = await startAgent(
      agentConfig(link.port, { resume: { ...resume, windowMs } }),
      testLogger(),
    );
    cleanups.push(() => agent.close());
    const router = new Router(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"]);
    await waitUntil(() => prefixesOf(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    return { gateway, link, agent, router };
  }

  test("a reset link is resumed: the same collector session goes on, no route refresh", async () => {
    const { gateway, link, agent, router } = await resumeStack(30_000);

    link.cut();
    await waitUntil(() => agent.status().sessions[0]?.resumes === 1, {
      timeoutMs: 5_000,
      what: "the session to be resumed",
    });
    router.prefixes = [...router.prefixes, "203.0.113.0/24"];
    router.announce();
    await waitUntil(() => prefixesOf(gateway) === 2, {
      timeoutMs: 5_000,
      what: "the new prefix on the same collector session",
    });
    expect(router.count(MessageType.ROUTE_REFRESH)).toBe(0);
    expect(router.count(MessageType.OPEN)).toBe(1);
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(agent.status().sessions[0]?.state).toBe("relaying");
    expect(agent.status().sessions[0]?.bridge?.bridged).toBe(0);
  }, 20_000);

  test("a gateway that no longer holds the session: the agent falls back to bridging", async () => {
    // A 1 ms grace: the gateway closes the lost stream's collector session at once.
    const { gateway, link, agent, router } = await resumeStack(1);

    // The agent's resume gets through only once the gateway has given the session up.
    link.pause();
    link.cut();
    await waitUntil(() => gateway.sessions.size === 0, {
      timeoutMs: 5_000,
      what: "the gateway to give the held session up",
    });
    link.resume();
    await waitForRefreshedTable(router, gateway, 1);
    expectBridgedOnce(agent, router);
  }, 30_000);

  test("a session the gateway still holds, started afresh by the bridge: a new far end, no KILL", async () => {
    // The gateway holds a lost stream's session for 30 s; the agent gives its resume up
    // after 300 ms and bridges. Its new stream (same session-id, counters 0) reaches the
    // gateway while the old session is still held (e.g. its far end's hold timer expired in
    // a partition): the gateway closes the held far end and opens a new one.
    const { gateway, link, agent, router } = await resumeStack(30_000, 300);

    link.refuse(true);
    link.cut();
    await waitUntil(() => agent.status().sessions[0]?.state === "bridging", {
      timeoutMs: 5_000,
      what: "the agent to give the resume up and bridge",
    });
    expect(gateway.sessions.size).toBe(1); // still held for the agent
    link.refuse(false);
    await waitUntil(() => router.count(MessageType.ROUTE_REFRESH) === 1, {
      timeoutMs: 10_000,
      what: "a new collector session and a ROUTE-REFRESH",
    });
    await waitUntil(() => gateway.registry.all()[0]?.established && prefixesOf(gateway) === 1, {
      timeoutMs: 5_000,
      what: "the new collector session Established with the router's prefix",
    });
    expect(gateway.sessions.size).toBe(1);
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(router.socket.destroyed).toBe(false);
    expect(agent.status().sessions[0]?.bridge?.bridged).toBe(1);
    expect(agent.status().sessionsTotal).toBe(1);
  }, 30_000);

  test("a drain ends a session held for a resume; the agent then bridges", async () => {
    const { gateway, link, agent, router } = await resumeStack(30_000, 10_000);

    // The stream is lost and the agent's resume cannot get through yet.
    link.pause();
    link.cut();
    await waitUntil(() => agent.status().sessions[0]?.state === "resuming", {
      timeoutMs: 5_000,
      what: "the agent to be resuming",
    });
    expect(gateway.sessions.size).toBe(1); // held for the agent
    await fetch(`http://127.0.0.1:${gateway.httpPort}/admin/drain`, { method: "POST" });
    await waitUntil(() => gateway.sessions.size === 0, {
      timeoutMs: 2_000,
      what: "the held session to end with the drain",
    });
    link.resume();
    await waitUntil(() => agent.status().sessions[0]?.state === "bridging", {
      timeoutMs: 15_000,
      what: "the agent to fall back to bridging",
    });
    expect(agent.status().sessions[0]?.resumes).toBe(0);
    expect(router.socket.destroyed).toBe(false);
  }, 30_000);
});

describe("graceful RESTART", () => {
  const held = { windowMs: 30_000, limitBytes: 4 * 1024 * 1024 };

  test("restart-streams (no drain): the same collector session goes on, no OPEN, no route refresh", async () => {
    const gateway = await startGateway(
      gatewayConfig({ devices: [DEVICE], resume: held }),
      testLogger(),
    );
    cleanups.push(() => gateway.close());
    const agent = await startAgent(agentConfig(gateway.port), testLogger());
    cleanups.push(() => agent.close());
    const router = new Router(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"]);
    await waitUntil(() => prefixesOf(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    const since = gateway.registry.all()[0]?.lastChange;

    const res = await fetch(`http://127.0.0.1:${gateway.httpPort}/admin/restart-streams`, {
      method: "POST",
    });
    expect(await res.json()).toEqual({ kind: "restarting", sessions: 1 });
    await waitUntil(() => agent.status().sessions[0]?.resumes === 1, {
      timeoutMs: 5_000,
      what: "the session re-attached on a new Data stream",
    });
    router.prefixes = [...router.prefixes, "203.0.113.0/24"];
    router.announce();
    await waitUntil(() => prefixesOf(gateway) === 2, {
      timeoutMs: 5_000,
      what: "the new prefix on the same collector session",
    });
    // One collector session all along: no state change, one session ever.
    expect(gateway.registry.all()[0]?.lastChange).toBe(since);
    expect(gateway.registry.all()[0]?.sessionsTotal).toBe(1);
    expect(gateway.sessions.size).toBe(1);
    expect(router.count(MessageType.OPEN)).toBe(1);
    expect(router.count(MessageType.ROUTE_REFRESH)).toBe(0);
    expect(router.count(MessageType.NOTIFICATION)).toBe(0);
    expect(agent.status().sessions[0]?.bridge?.bridged).toBe(0);
  }, 20_000);

  test("an agent-started RESTART reaching a gateway that does not hold the session: KILL, the agent bridges", async () => {
    // Resume (and holding) off at the gateway: it answers the RESTART and closes the far end.
    const gateway = await startGateway(gatewayConfig({ devices: [DEVICE] }), testLogger());
    cleanups.push(() => gateway.close());
    const agent = await startAgent(agentConfig(gateway.port), testLogger());
    cleanups.push(() => agent.close());
    const router = new Router(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"]);
    await waitUntil(() => prefixesOf(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });

    const res = await fetch(`http://127.0.0.1:${agent.metricsPort}/admin/restart`, {
      method: "POST",
    });
    expect(await res.json()).toEqual({ kind: "restarting", sessions: 1 });
    await waitForRefreshedTable(router, gateway, 1);
    expectBridgedOnce(agent, router);
  }, 30_000);

  test("the same, for a router without route refresh: its session is closed as without bridging", async () => {
    const gateway = await startGateway(gatewayConfig({ devices: [DEVICE] }), testLogger());
    cleanups.push(() => gateway.close());
    const agent = await startAgent(agentConfig(gateway.port), testLogger());
    cleanups.push(() => agent.close());
    const router = new Router(agent.listening[0]?.port ?? 0, ["198.51.100.0/24"], false);
    await waitUntil(() => prefixesOf(gateway) === 1, { timeoutMs: 5_000, what: "1 prefix" });
    expect(agent.restart()).toBe(1);
    await within(router.closed, 5_000, "the router's connection to close");
  }, 15_000);
});
