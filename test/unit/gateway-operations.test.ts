import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { sha256Hex } from "../../src/core/sha256.ts";
import { encodeLogs } from "../../src/export/otlp-logs.ts";
import { encodeMetrics } from "../../src/export/otlp-metrics.ts";
import type { AgentCallInfo } from "../../src/gateway/agent-call.ts";
import { AgentMetricsStore } from "../../src/gateway/agent-metrics-store.ts";
import { renderAgents } from "../../src/gateway/agent-view.ts";
import { OtlpReceiver } from "../../src/gateway/otlp-receiver.ts";
import { escapeHtml, formatAge, renderStatusPage } from "../../src/gateway/status-page.ts";
import type { MetricFamily } from "../../src/metrics/registry.ts";
import { golden, NOW } from "../fixtures/status/snapshot.ts";
import { captureLogs } from "../support/log-capture.ts";

const gauge = (name: string, value: number, labels: Record<string, string> = {}): MetricFamily => ({
  name,
  help: `${name} help`,
  type: "gauge",
  samples: [{ labels, value }],
});

describe("AgentMetricsStore", () => {
  test("series get the agent's instance label; the latest sample per series wins", () => {
    let now = NOW;
    const store = new AgentMetricsStore(
      { expiryMs: 60_000, maxSeriesPerAgent: 100, maxAgents: 10 },
      () => now,
    );
    store.put("b", [gauge("x", 1, { instance: "spoofed" })]);
    store.put("a", [gauge("x", 2)]);
    now += 1_000;
    store.put("a", [gauge("x", 3)]);
    expect(store.families()).toEqual([
      {
        name: "x",
        help: "x help",
        type: "gauge",
        samples: [
          { labels: { instance: "a" }, value: 3 },
          { labels: { instance: "b" }, value: 1 },
        ],
      },
    ]);
    expect(store.seriesCount).toBe(2);
  });

  test("an agent that stopped sending expires", () => {
    let now = NOW;
    const store = new AgentMetricsStore(
      { expiryMs: 60_000, maxSeriesPerAgent: 100, maxAgents: 10 },
      () => now,
    );
    store.put("gone", [gauge("x", 1)]);
    now += 30_000;
    store.put("alive", [gauge("x", 2)]);
    now += 30_001;
    expect(store.families()[0]?.samples).toEqual([{ labels: { instance: "alive" }, value: 2 }]);
    expect([...store.lastPushes().keys()]).toEqual(["alive"]);
    now += 60_000;
    expect(store.families()).toEqual([]);
    expect(store.seriesCount).toBe(0);
  });

  test("bounded: series per agent and number of agents", () => {
    let now = NOW;
    const store = new AgentMetricsStore(
      { expiryMs: 60_000, maxSeriesPerAgent: 2, maxAgents: 2 },
      () => now,
    );
    const r = store.put("a", [gauge("x", 1), gauge("y", 1), gauge("z", 1)]);
    expect(r).toEqual({ accepted: 2, rejected: 1 });
    now += 1;
    store.put("b", [gauge("x", 1)]);
    now += 1;
    store.put("c", [gauge("x", 1)]); // evicts "a", heard from longest ago
    expect([...store.lastPushes().keys()].sort()).toEqual(["b", "c"]);
  });

  test("a type clash between agents leaves the later agent's family out", () => {
    const store = new AgentMetricsStore();
    store.put("a", [gauge("m", 1)]);
    store.put("b", [{ name: "m", help: "", type: "counter", samples: [{ labels: {}, value: 5 }] }]);
    expect(store.families().map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ["m", "gauge", 1],
    ]);
  });
});

const info = (instance: string, peer: string): AgentCallInfo => ({
  account: { email: "ops@example.net", tokenSha256: "x", companyId: 1 },
  email: "ops@example.net",
  site: 7,
  version: "1.2.3",
  instance,
  peer,
});

describe("/api/agents", () => {
  test("golden JSON: oldest connection first, heartbeat age, sessions, exports", () => {
    const view = renderAgents({
      entries: [
        {
          info: info("b-instance", "192.0.2.20:40001"),
          connectedAt: NOW - 5_000,
          lastHeard: NOW - 4_000,
        },
        {
          info: info("a-instance", "[2001:db8::5]:51000"),
          connectedAt: NOW - 86_400_000,
          lastHeard: NOW - 9_500,
        },
      ],
      sessionsOf: (i) => (i === "a-instance" ? 3 : 0),
      lastMetrics: new Map([["a-instance", NOW - 14_000]]),
      lastLogs: new Map(),
      now: NOW,
    });
    const { expected, actual } = golden("api-agents.json", view);
    expect(actual).toEqual(expected);
    expect(JSON.stringify(view)).not.toContain("tokenSha256");
  });
});

describe("status page", () => {
  const page = () =>
    renderStatusPage({
      version: "1.2.3",
      now: NOW,
      devices: [
        {
          name: "edge-<r1>",
          id: 1,
          ip: "10.0.0.1",
          site: 0,
          target: "collector",
          state: "established",
          sessions: 1,
          sessions_total: 2,
          updates: 1204,
          prefixes: { ipv4: 1_000_000, ipv6: 200_000 },
          md5: true,
        },
      ],
      agents: renderAgents({
        entries: [
          {
            info: info("a-1", "192.0.2.9:4000"),
            connectedAt: NOW - 60_000,
            lastHeard: NOW - 45_000,
          },
        ],
        sessionsOf: () => 1,
        lastMetrics: new Map(),
        lastLogs: new Map(),
        now: NOW,
      }),
    });

  test("values are escaped; counts and states are shown", () => {
    const html = page();
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("edge-&lt;r1&gt;");
    expect(html).not.toContain("edge-<r1>");
    expect(html).toContain('<span class="badge established">established</span>');
    expect(html).toContain("1,000,000");
    expect(html).toContain("200,000");
    expect(html).toContain('<td class="age stale">0 min 45 s</td>');
    expect(html).not.toMatch(/<script/i);
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    );
  });

  test("empty tables say so", () => {
    const html = renderStatusPage({ version: "1", now: NOW, devices: [], agents: [] });
    expect(html).toContain("No devices configured.");
    expect(html).toContain("No agent connected.");
  });

  test("ages read naturally", () => {
    expect(formatAge(4_200)).toBe("4.2 s");
    expect(formatAge(65_000)).toBe("1 min 05 s");
    expect(formatAge(7_620_000)).toBe("2 h 07 min");
  });
});

const TOKEN = "agent-token-1";
const ACCOUNTS = [{ email: "ops@example.net", tokenSha256: sha256Hex(TOKEN), companyId: 1 }];
const RESOURCE = { serviceName: "bgproxy-agent", serviceVersion: "1.2.3", instance: "9ef1-agent" };

function receiver() {
  const logs = captureLogs();
  const store = new AgentMetricsStore(undefined, () => NOW);
  const r = new OtlpReceiver({ accounts: ACCOUNTS, logger: logs.logger, store, now: () => NOW });
  const routes = r.routes();
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const handler = routes[path];
    if (!handler) throw new Error(`no route ${path}`);
    return handler(
      new Request(`http://gw${path}`, {
        method: "POST",
        body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
        headers: {
          "content-type": "application/json",
          "x-ch-auth-email": "ops@example.net",
          "x-ch-auth-api-token": TOKEN,
          ...headers,
        },
      }),
    );
  };
  return { logs, store, r, post };
}

describe("OTLP receiver", () => {
  test("agent logs are written to the gateway's log, tagged with the instance", async () => {
    const h = receiver();
    const body = encodeLogs(
      [
        {
          timeMs: NOW - 10,
          level: "warn",
          msg: "Deny-listed an INVALID / UNKNOWN device",
          fields: {
            component: "proxy/client-data",
            device_ip: "::1",
            ttl_seconds: 1200,
            instance: "x",
            time: "t",
          },
        },
      ],
      RESOURCE,
      NOW,
    );
    for (const path of ["/v1/logs", "/agents/v202204/logs"]) {
      const res = await h.post(path, body);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
    }
    const lines = h.logs.find("Deny-listed an INVALID / UNKNOWN device");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: "warn",
      component: "agent",
      instance: "9ef1-agent",
      agent_component: "proxy/client-data",
      device_ip: "::1",
      ttl_seconds: 1200,
      agent_time: "2023-07-25T17:01:25.399000000Z",
      "field.time": "t",
    });
    expect(h.r.lastLogs.get("9ef1-agent")).toBe(NOW);
    expect(h.r.stats().items.get("logs|accepted")).toBe(2);
  });

  test("metrics go to the store under the agent's instance; gzip is accepted", async () => {
    const h = receiver();
    const body = encodeMetrics([gauge("bgproxy_agent_sessions_active", 4)], RESOURCE, NOW, NOW);
    const res = await h.post("/v1/metrics", gzipSync(JSON.stringify(body)), {
      "content-encoding": "gzip",
    });
    expect(res.status).toBe(200);
    expect(h.store.families()[0]?.samples).toEqual([
      { labels: { instance: "9ef1-agent" }, value: 4 },
    ]);
  });

  test("refusals: credentials 401, protobuf 415, malformed 400, partial success reported", async () => {
    const h = receiver();
    const bad = await h.post("/v1/logs", {}, { "x-ch-auth-api-token": "wrong" });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ code: 16, message: "invalid credentials" });
    expect(
      (await h.post("/v1/logs", "x", { "content-type": "application/x-protobuf" })).status,
    ).toBe(415);
    expect((await h.post("/v1/logs", "{nope")).status).toBe(400);
    const shape = await h.post("/v1/metrics", { resourceMetrics: "x" });
    expect(shape.status).toBe(400);
    expect(((await shape.json()) as { message: string }).message).toContain("must be an array");
    const partial = await h.post("/v1/metrics", {
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: "s", summary: {} }] }] }],
    });
    expect(await partial.json()).toMatchObject({ partialSuccess: { rejectedDataPoints: "1" } });
    expect(h.logs.lines.join("\n")).not.toContain(TOKEN);
    const requests = h.r.stats().requests;
    expect(requests.get("logs|unauthorized")).toBe(1);
    expect(requests.get("logs|unsupported")).toBe(1);
    expect(requests.get("logs|invalid")).toBe(1);
  });
});
