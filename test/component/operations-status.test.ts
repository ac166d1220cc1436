/**
 * The operations surface of a real in-process agent and gateway on loopback: routers
 * connect, send and leave, and every endpoint's numbers follow — the agent's /hc,
 * /admin/status, /admin/sessions[/<ip>] and /metrics, the gateway's /api/devices,
 * /api/agents and /metrics. Then the gateway goes away and /hc turns to failing.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs } from "../support/log-capture.ts";
import { promtoolCheck, promtoolPath } from "../support/ops-tools.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

async function get(port: number, path: string): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(3_000),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** The value of one sample line of a Prometheus text (exact series as written). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metric(port: number, series: string): Promise<number | undefined> {
  return sample((await get(port, "/metrics")).text, series);
}

interface Router {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

async function router(port: number, localAddress: string): Promise<Router> {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  cleanups.push(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received: () => Buffer.concat(chunks).toString(), closed };
}

interface Running {
  agent: RunningAgent;
  gateway: RunningGateway;
  routerPort: number;
  stopGateway: () => Promise<void>;
}

async function start(): Promise<Running> {
  const daemon = await startDaemon((s) => {
    s.on("data", (d: Buffer) => s.write(Buffer.concat([Buffer.from("echo:"), d])));
    s.on("end", () => s.end());
    s.on("error", () => {});
  });
  cleanups.push(() => daemon.server.close());
  const devices = [
    forwardDevice("127.0.0.1", daemon.port, { name: "edge-r1", id: 1 }),
    forwardDevice("127.0.0.2", daemon.port, { name: "edge-r2", id: 2 }),
  ];
  const gateway = await startGateway(gatewayConfig({ devices }), captureLogs().logger);
  let gatewayOpen = true;
  const stopGateway = async () => {
    if (!gatewayOpen) return;
    gatewayOpen = false;
    await gateway.close();
  };
  cleanups.push(stopGateway);
  const agent = await startAgent(
    agentConfig(gateway.port, { heartbeat: { intervalMs: 200, timeoutMs: 1_000 } }),
    captureLogs().logger,
    { operations: { health: { intervalMs: 200, timeoutMs: 1_000, maxAgeMs: 5_000, pollMs: 50 } } },
  );
  cleanups.push(() => agent.close());
  return { agent, gateway, routerPort: agent.listening[0]?.port ?? 0, stopGateway };
}

describe("operations endpoints follow the sessions", () => {
  test("agent and gateway numbers change as routers come and go; /hc fails without a gateway", async () => {
    const { agent, gateway, routerPort, stopGateway } = await start();
    const ap = agent.metricsPort;
    const gp = gateway.httpPort;
    expect(ap).toBeGreaterThan(0);

    // Healthy once the control stream is up and a check run has passed.
    await waitUntil(async () => (await get(ap, "/hc")).status === 200, {
      timeoutMs: 5_000,
      what: "/hc to answer 200",
    });
    expect((await get(ap, "/hc")).body).toMatchObject({ status: "ok" });
    expect((await get(ap, "/admin/sessions")).body).toEqual({ NumSessions: 0, Sessions: [] });
    expect(await metric(ap, "bgproxy_agent_sessions_active")).toBe(0);
    expect(await metric(ap, "bgproxy_agent_sessions_total")).toBe(0);

    // Router 1 connects and talks.
    const r1 = await router(routerPort, "127.0.0.1");
    r1.socket.write("hello");
    await waitUntil(() => r1.received() === "echo:hello", { timeoutMs: 5_000, what: "the echo" });
    const status = (await get(ap, "/admin/status?pretty")).body as {
      InstanceID: string;
      ActiveSessions: number;
      ControlStream: { Connected: boolean };
      Config: { APIEmail: string; Listeners: string[] };
    };
    expect(status.InstanceID).toBe(agent.instance);
    expect(status.ActiveSessions).toBe(1);
    expect(status.ControlStream.Connected).toBe(true);
    expect(status.Config.Listeners).toEqual([`127.0.0.1:${routerPort}`]);
    const sessions = (await get(ap, "/admin/sessions")).body as {
      NumSessions: number;
      Sessions: Array<{ Peer: string; Connected: boolean }>;
    };
    expect(sessions.NumSessions).toBe(1);
    expect(sessions.Sessions[0]).toMatchObject({
      Peer: `127.0.0.1:${r1.socket.localPort}`,
      Connected: true,
    });
    const detail = await get(ap, "/admin/sessions/127.0.0.1");
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      SessionID: agent.status().sessions[0]?.sessionId,
      ServerMetadata: { "counter-up": ["0"], "counter-down": ["0"] },
    });
    expect(await metric(ap, "bgproxy_agent_sessions_active")).toBe(1);
    expect(await metric(ap, "bgproxy_agent_sessions_total")).toBe(1);
    expect(await metric(ap, 'bgproxy_agent_relay_bytes_total{direction="up"}')).toBe(5);
    expect(await metric(ap, 'bgproxy_agent_relay_bytes_total{direction="down"}')).toBe(10);
    expect(await metric(ap, "bgproxy_agent_grpc_connections")).toBe(1);
    expect(await metric(ap, 'bgproxy_agent_session_buffered_bytes{device_ip="127.0.0.1"}')).toBe(0);

    const devices = (await get(gp, "/api/devices")).body as Array<{
      name: string;
      sessions: number;
    }>;
    expect(devices.find((d) => d.name === "edge-r1")?.sessions).toBe(1);
    const agents = (await get(gp, "/api/agents")).body as Array<{
      instance: string;
      active_sessions: number;
    }>;
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ instance: agent.instance, active_sessions: 1 });
    expect(await metric(gp, "bgproxy_gateway_sessions_active")).toBe(1);
    expect(await metric(gp, "bgproxy_gateway_agents_connected")).toBe(1);
    // grpc-js's internals are where bgproxy's patches expect them: both roles show each as 1.
    for (const patch of ["pre_framing", "metadata_release"]) {
      expect(await metric(ap, `bgproxy_agent_grpc_patch_applied{patch="${patch}"}`)).toBe(1);
      expect(await metric(gp, `bgproxy_gateway_grpc_patch_applied{patch="${patch}"}`)).toBe(1);
    }

    // Router 2 joins with more bytes; router 1 leaves.
    const r2 = await router(routerPort, "127.0.0.2");
    r2.socket.write("0123456789");
    await waitUntil(() => r2.received() === "echo:0123456789", {
      timeoutMs: 5_000,
      what: "echo 2",
    });
    expect(((await get(ap, "/admin/sessions")).body as { NumSessions: number }).NumSessions).toBe(
      2,
    );
    r1.socket.end();
    await waitUntil(async () => (await get(ap, "/admin/sessions/127.0.0.1")).status === 404, {
      timeoutMs: 5_000,
      what: "router 1's session to be gone",
    });
    expect((await get(ap, "/admin/sessions/127.0.0.1")).body).toEqual({
      error: "no session for device 127.0.0.1",
    });
    expect((await get(ap, "/admin/sessions/127.0.0.2")).status).toBe(200);
    // Counters keep the ended session's bytes; gauges drop it.
    expect(await metric(ap, "bgproxy_agent_sessions_active")).toBe(1);
    expect(await metric(ap, "bgproxy_agent_sessions_total")).toBe(2);
    expect(await metric(ap, 'bgproxy_agent_relay_bytes_total{direction="up"}')).toBe(15);
    expect(await metric(ap, 'bgproxy_agent_relay_bytes_total{direction="down"}')).toBe(25);
    expect(await metric(ap, 'bgproxy_agent_session_buffered_bytes{device_ip="127.0.0.1"}')).toBe(
      undefined,
    );
    await waitUntil(
      async () =>
        ((await get(gp, "/api/agents")).body as Array<{ active_sessions: number }>)[0]
          ?.active_sessions === 1,
      { timeoutMs: 5_000, what: "the gateway to count one session for the agent" },
    );

    // An unknown router is deny-listed; its second attempt is refused and counted.
    const unknown = await router(routerPort, "127.0.0.3");
    await unknown.closed;
    await waitUntil(async () => (await metric(ap, "bgproxy_agent_deny_list_size")) === 1, {
      timeoutMs: 5_000,
      what: "the deny-list to hold the unknown router",
    });
    const again = await router(routerPort, "127.0.0.3");
    await again.closed;
    await waitUntil(
      async () => (await metric(ap, "bgproxy_agent_blocked_connections_total")) === 1,
      {
        timeoutMs: 5_000,
        what: "the refused attempt to be counted",
      },
    );

    // Keepalives every 200 ms: RTTs land in the histogram and on /admin/status.
    await waitUntil(
      async () => ((await metric(ap, "bgproxy_agent_heartbeat_rtt_seconds_count")) ?? 0) >= 2,
      {
        timeoutMs: 5_000,
        what: "heartbeat round trips",
      },
    );
    const hb = ((await get(ap, "/admin/status")).body as { Heartbeats: Record<string, unknown> })
      .Heartbeats;
    expect(typeof hb.LastTxRTTMs).toBe("number");
    expect(typeof hb.LastRx).toBe("string");

    if (promtoolPath) {
      for (const port of [ap, gp]) {
        const check = promtoolCheck((await get(port, "/metrics")).text);
        expect(check.output).toBe("");
        expect(check.code).toBe(0);
      }
    }

    // The gateway goes away: the control stream drops and /hc reports failing (503).
    const reconnectsBefore =
      (await metric(ap, "bgproxy_agent_control_stream_reconnects_total")) ?? 0;
    await stopGateway();
    const down = await waitUntil(
      async () => {
        const hc = await get(ap, "/hc");
        return hc.status === 503 && (hc.body as { status: string }).status === "failing"
          ? hc
          : undefined;
      },
      { timeoutMs: 8_000, what: "/hc to report failing" },
    );
    expect(down.body).toMatchObject({ status: "failing" });
    expect(await metric(ap, "bgproxy_agent_control_stream_up")).toBe(0);
    expect(await metric(ap, 'bgproxy_agent_health_status{status="failing"}')).toBe(1);
    expect(await metric(ap, "bgproxy_agent_control_stream_reconnects_total")).toBeGreaterThan(
      reconnectsBefore,
    );
    expect(
      ((await get(ap, "/admin/status")).body as { ControlStream: { Connected: boolean } })
        .ControlStream.Connected,
    ).toBe(false);
  }, 30_000);
});
