/**
 * Export end to end: a real agent ships its logs and metrics over OTLP/HTTP (JSON) to the
 * gateway's export listener with its gRPC credentials. The agent's log lines appear in the
 * gateway's log tagged with its instance, its metrics on the gateway's /metrics with an
 * `instance` label (gone once it stops sending), and /api/agents lists it. An unreachable
 * endpoint costs one warning, not one per attempt, and never the relay.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, createServer, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import { promtoolCheck, promtoolPath } from "../support/ops-tools.ts";
import {
  agentConfig,
  forwardDevice,
  gatewayConfig,
  startDaemon,
  TEST_TOKEN,
} from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { makeTestPki, type TestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

async function text(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(3_000),
  });
  return { status: res.status, body: await res.text() };
}

function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function routerSession(port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  cleanups.push(() => socket.destroy());
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Harness {
  gateway: RunningGateway;
  gwLogs: LogCapture;
  agent: RunningAgent;
  agentLogs: LogCapture;
  routerPort: number;
}

async function start(
  exportTo: (gateway: RunningGateway) => Promise<AgentConfig["export"]>,
): Promise<Harness> {
  const daemon = await startDaemon((s) => {
    s.on("data", (d: Buffer) => s.write(d));
    s.on("error", () => {});
  });
  cleanups.push(() => daemon.server.close());
  const gwLogs = captureLogs();
  const gateway = await startGateway(
    gatewayConfig({
      devices: [forwardDevice("127.0.0.1", daemon.port, { name: "edge-r1" })],
      exportListen: { host: "127.0.0.1", port: 0 },
    }),
    gwLogs.logger,
    { agentMetrics: { expiryMs: 1_500 } },
  );
  cleanups.push(() => gateway.close());
  const agentLogs = captureLogs();
  const agent = await startAgent(
    agentConfig(gateway.port, {
      export: await exportTo(gateway),
      log: { level: "info", human: false },
    }),
    agentLogs.logger,
    {
      operations: { metricsExportIntervalMs: 300, metricsExportFirstDelayMs: 100, logFlushMs: 100 },
    },
  );
  cleanups.push(() => agent.close());
  return { gateway, gwLogs, agent, agentLogs, routerPort: agent.listening[0]?.port ?? 0 };
}

describe("agent → gateway export", () => {
  test("logs reach the gateway's log tagged with the instance; metrics its /metrics; /api/agents lists the agent", async () => {
    const h = await start(async (gw) => ({
      logsDisabled: false,
      metricsDisabled: false,
      logUrl: `http://127.0.0.1:${gw.exportPort}/v1/logs`,
      metricsUrl: `http://127.0.0.1:${gw.exportPort}/v1/metrics`,
    }));
    const instance = h.agent.instance;
    const fromAgent = (msg: string) =>
      h.gwLogs.find(msg).filter((r) => r.component === "agent" && r.instance === instance);

    // The agent's own lines, as the gateway writes them.
    const connected = await waitUntil(() => fromAgent("control stream connected")[0], {
      timeoutMs: 5_000,
      what: "the agent's 'control stream connected' line in the gateway's log",
    });
    expect(connected).toMatchObject({ level: "info", agent_component: "proxy/control" });
    expect(String(connected.agent_time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);

    // A session: "opening Data stream" carries the call metadata, with the token redacted.
    const socket = await routerSession(h.routerPort, "127.0.0.1");
    socket.write("x");
    const opening = await waitUntil(() => fromAgent("opening Data stream")[0], {
      timeoutMs: 5_000,
      what: "the agent's 'opening Data stream' line in the gateway's log",
    });
    expect(opening).toMatchObject({ device_ip: "127.0.0.1", agent_component: "proxy/client-data" });
    expect(JSON.stringify(opening)).toContain("[redacted]");

    // An unknown router: the block line operators grep for, with its fields.
    const unknown = await routerSession(h.routerPort, "127.0.0.9");
    await new Promise<void>((resolve) => unknown.once("close", () => resolve()));
    const denied = await waitUntil(() => fromAgent("Deny-listed an INVALID / UNKNOWN device")[0], {
      timeoutMs: 5_000,
      what: "the agent's deny-list line in the gateway's log",
    });
    expect(denied).toMatchObject({ level: "info", device_ip: "127.0.0.9", ttl_seconds: 1200 });

    // Metrics on the gateway, labelled with the instance.
    const gwMetrics = await waitUntil(
      async () => {
        const m = (await text(h.gateway.httpPort, "/metrics")).body;
        // A snapshot taken after both the session and the block.
        const fresh =
          sample(m, `bgproxy_agent_sessions_active{instance="${instance}"}`) === 1 &&
          sample(m, `bgproxy_agent_deny_list_size{instance="${instance}"}`) === 1;
        return fresh ? m : undefined;
      },
      { timeoutMs: 5_000, what: "the agent's metrics on the gateway's /metrics" },
    );
    expect(gwMetrics).toContain(`bgproxy_agent_info{instance="${instance}",version="`);
    expect(gwMetrics).toContain(
      `bgproxy_agent_heartbeat_rtt_seconds_count{instance="${instance}"}`,
    );
    expect(sample(gwMetrics, "bgproxy_gateway_agent_series")).toBeGreaterThan(20);
    if (promtoolPath) {
      const check = promtoolCheck(gwMetrics);
      expect(check.output).toBe("");
      expect(check.code).toBe(0);
    }

    // /api/agents: the agent, its session and when it last exported.
    const agents = JSON.parse((await text(h.gateway.httpPort, "/api/agents")).body) as Array<
      Record<string, unknown>
    >;
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ instance, active_sessions: 1, email: "ops@example.net" });
    expect(agents[0]?.last_metrics_export).toEqual(expect.any(String));
    expect(agents[0]?.last_log_export).toEqual(expect.any(String));
    expect(String(agents[0]?.remote_address)).toContain("127.0.0.1");

    // The agent counts what it sent; the gateway what it received.
    const agentMetrics = (await text(h.agent.metricsPort, "/metrics")).body;
    expect(sample(agentMetrics, 'bgproxy_agent_export_sent_total{signal="logs"}')).toBeGreaterThan(
      3,
    );
    expect(
      sample(agentMetrics, 'bgproxy_agent_export_sent_total{signal="metrics"}'),
    ).toBeGreaterThan(0);
    expect(sample(agentMetrics, 'bgproxy_agent_export_dropped_total{signal="logs"}')).toBe(0);
    expect(
      sample(gwMetrics, 'bgproxy_gateway_export_requests_total{signal="logs",outcome="accepted"}'),
    ).toBeGreaterThan(0);

    // The token never reached the gateway's log.
    expect(h.gwLogs.lines.join("\n")).not.toContain(TEST_TOKEN);

    // The agent stops: its series expire from the gateway's /metrics.
    await h.agent.close();
    await waitUntil(
      async () =>
        !(await text(h.gateway.httpPort, "/metrics")).body.includes(`instance="${instance}"`),
      { timeoutMs: 6_000, what: "the stopped agent's series to expire" },
    );
    expect(JSON.parse((await text(h.gateway.httpPort, "/api/agents")).body)).toEqual([]);
  }, 30_000);

  for (const which of ["logs", "metrics"] as const) {
    test(`--disable-${which === "logs" ? "log" : "metrics"}-export stops ${which} export only`, async () => {
      const h = await start(async (gw) => ({
        logsDisabled: which === "logs",
        metricsDisabled: which === "metrics",
        logUrl: `http://127.0.0.1:${gw.exportPort}/v1/logs`,
        metricsUrl: `http://127.0.0.1:${gw.exportPort}/v1/metrics`,
      }));
      const instance = h.agent.instance;
      const other = which === "logs" ? "metrics" : "logs";
      const accepted = (m: string, signal: string) =>
        sample(m, `bgproxy_gateway_export_requests_total{signal="${signal}",outcome="accepted"}`) ??
        0;
      // The other signal arrives ...
      await waitUntil(
        async () => accepted((await text(h.gateway.httpPort, "/metrics")).body, other) >= 1,
        { timeoutMs: 5_000, what: `the agent's ${other} at the gateway` },
      );
      // ... and, over several metric intervals (300 ms) and log flushes (100 ms), this one never does.
      await Bun.sleep(1_000);
      const gwMetrics = (await text(h.gateway.httpPort, "/metrics")).body;
      expect(accepted(gwMetrics, other)).toBeGreaterThan(0);
      expect(accepted(gwMetrics, which)).toBe(0);
      const agentMetrics = (await text(h.agent.metricsPort, "/metrics")).body;
      expect(sample(agentMetrics, `bgproxy_agent_export_sent_total{signal="${which}"}`)).toBe(
        undefined,
      );
      const agents = JSON.parse((await text(h.gateway.httpPort, "/api/agents")).body) as Array<
        Record<string, unknown>
      >;
      const last = (s: string) => agents[0]?.[`last_${s === "logs" ? "log" : s}_export`];
      expect(agents[0]?.instance).toBe(instance);
      expect(last(other)).toEqual(expect.any(String));
      expect(last(which) ?? null).toBeNull();
    }, 20_000);
  }

  test("the HTTP API takes exports too (standalone, same host)", async () => {
    const h = await start(async (gw) => ({
      logsDisabled: false,
      metricsDisabled: false,
      logUrl: `http://127.0.0.1:${gw.httpPort}/agents/v202204/logs`,
      metricsUrl: `http://127.0.0.1:${gw.httpPort}/agents/v202204/metrics`,
    }));
    await waitUntil(
      async () =>
        (await text(h.gateway.httpPort, "/metrics")).body.includes(
          `bgproxy_agent_control_stream_up{instance="${h.agent.instance}"} 1`,
        ),
      { timeoutMs: 5_000, what: "the agent's metrics through the reference's paths" },
    );
    await waitUntil(
      () => h.gwLogs.find("control stream connected").some((r) => r.instance === h.agent.instance),
      { timeoutMs: 5_000, what: "the agent's log through the reference's paths" },
    );
  }, 20_000);

  test("an unreachable endpoint: one warning per signal, failures counted, the relay unaffected", async () => {
    const port = await closedPort();
    const h = await start(async () => ({
      logsDisabled: false,
      metricsDisabled: false,
      logUrl: `http://127.0.0.1:${port}/v1/logs`,
      metricsUrl: `http://127.0.0.1:${port}/v1/metrics`,
    }));
    await waitUntil(
      async () =>
        (sample(
          (await text(h.agent.metricsPort, "/metrics")).body,
          'bgproxy_agent_export_failed_requests_total{signal="metrics"}',
        ) ?? 0) >= 4,
      { timeoutMs: 5_000, what: "several failed metric pushes" },
    );
    // Sessions are relayed as usual.
    const socket = await routerSession(h.routerPort, "127.0.0.1");
    const echoed = new Promise<string>((resolve) =>
      socket.once("data", (d: Buffer) => resolve(d.toString())),
    );
    socket.write("ping");
    expect(await echoed).toBe("ping");
    const m = (await text(h.agent.metricsPort, "/metrics")).body;
    expect(
      sample(m, 'bgproxy_agent_export_dropped_total{signal="metrics"}'),
    ).toBeGreaterThanOrEqual(4);
    expect(
      sample(m, 'bgproxy_agent_export_failed_requests_total{signal="logs"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'bgproxy_agent_export_queued{signal="logs"}')).toBeGreaterThan(0);
    expect(h.agentLogs.find(/^metrics export failing/)).toHaveLength(1);
    expect(h.agentLogs.find(/^log export failing/)).toHaveLength(1);
    expect(h.agentLogs.find(/^metrics export failing/)[0]).toMatchObject({
      level: "warn",
      url: `http://127.0.0.1:${port}/v1/metrics`,
    });
    expect((await text(h.agent.metricsPort, "/hc")).status).toBe(200); // export is not health
  }, 20_000);
});

describe("export over TLS to the gateway's --export-listen", () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
  });
  afterAll(() => pki?.remove());

  test("the agent trusts the gateway's certificate through --ca-file; metrics arrive", async () => {
    const gateway = await startGateway(
      gatewayConfig({
        insecure: false,
        tlsCert: pki.serverCertPath,
        tlsKey: pki.serverKeyPath,
        exportListen: { host: "127.0.0.1", port: 0 },
      }),
      captureLogs().logger,
    );
    cleanups.push(() => gateway.close());
    // Plain HTTP to the TLS listener is refused: the credentials never travel in clear.
    await expect(
      fetch(`http://127.0.0.1:${gateway.exportPort}/v1/metrics`, {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(3_000),
      }),
    ).rejects.toThrow();
    const agentLogs = captureLogs();
    const agent = await startAgent(
      agentConfig(gateway.port, {
        insecure: false,
        caFile: pki.caCertPath,
        target: { host: "localhost", port: gateway.port },
        export: {
          logsDisabled: false,
          metricsDisabled: false,
          logUrl: `https://localhost:${gateway.exportPort}/v1/logs`,
          metricsUrl: `https://localhost:${gateway.exportPort}/v1/metrics`,
        },
      }),
      agentLogs.logger,
      {
        operations: {
          metricsExportIntervalMs: 300,
          metricsExportFirstDelayMs: 100,
          logFlushMs: 100,
        },
      },
    );
    cleanups.push(() => agent.close());
    await waitUntil(
      async () =>
        (await text(gateway.httpPort, "/metrics")).body.includes(
          `bgproxy_agent_control_stream_up{instance="${agent.instance}"} 1`,
        ),
      { timeoutMs: 8_000, what: "the agent's metrics over HTTPS" },
    );
    expect(agentLogs.find(/export failing/)).toHaveLength(0);
  }, 30_000);
});
