import { describe, expect, test } from "bun:test";
import { agentMetricFamilies, MAX_DEVICE_SERIES } from "../../src/agent/status/agent-metrics.ts";
import { gatewayMetricFamilies } from "../../src/metrics/gateway-metrics.ts";
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  renderPrometheusText,
} from "../../src/metrics/prometheus-text.ts";
import { type MetricFamily, MetricsRegistry, mergeFamilies } from "../../src/metrics/registry.ts";
import { golden, session, snapshot, status } from "../fixtures/status/snapshot.ts";
import { promtoolCheck as promtool, promtoolPath, promtoolSkipNote } from "../support/ops-tools.ts";

describe("text format 0.0.4", () => {
  test("HELP and TYPE lines, then the samples", () => {
    const r = new MetricsRegistry();
    r.counter("demo_requests_total", "Requests.\nSecond line with a \\ backslash", ["code"]).inc(
      { code: "200" },
      3,
    );
    r.gauge("demo_temperature", "A gauge").set({}, -1.5);
    expect(renderPrometheusText(r.collect())).toBe(
      [
        "# HELP demo_requests_total Requests.\\nSecond line with a \\\\ backslash",
        "# TYPE demo_requests_total counter",
        'demo_requests_total{code="200"} 3',
        "# HELP demo_temperature A gauge",
        "# TYPE demo_temperature gauge",
        "demo_temperature -1.5",
        "",
      ].join("\n"),
    );
    expect(renderPrometheusText([])).toBe("");
  });

  test("label values escape backslash, double quote and line feed", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('say "hi"\\\n')).toBe('say "hi"\\\\\\n');
    const r = new MetricsRegistry();
    r.gauge("demo_info", "x", ["name"]).set({ name: 'r1 "core"\\\n' }, 1);
    expect(renderPrometheusText(r.collect())).toContain('demo_info{name="r1 \\"core\\"\\\\\\n"} 1');
  });

  test("special values", () => {
    expect(formatValue(Number.NaN)).toBe("NaN");
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe("+Inf");
    expect(formatValue(Number.NEGATIVE_INFINITY)).toBe("-Inf");
    expect(formatValue(0.25)).toBe("0.25");
    expect(formatValue(1e21)).toBe("1e+21");
  });

  test("histograms: cumulative buckets, +Inf, _sum and _count", () => {
    const r = new MetricsRegistry();
    const h = r.histogram("demo_latency_seconds", "Latency", [0.1, 0.5, 1], ["op"]);
    for (const v of [0.05, 0.1, 0.3, 0.7, 3]) h.observe({ op: "get" }, v);
    expect(renderPrometheusText(r.collect())).toBe(
      [
        "# HELP demo_latency_seconds Latency",
        "# TYPE demo_latency_seconds histogram",
        'demo_latency_seconds_bucket{op="get",le="0.1"} 2',
        'demo_latency_seconds_bucket{op="get",le="0.5"} 3',
        'demo_latency_seconds_bucket{op="get",le="1"} 4',
        'demo_latency_seconds_bucket{op="get",le="+Inf"} 5',
        'demo_latency_seconds_sum{op="get"} 4.15',
        'demo_latency_seconds_count{op="get"} 5',
        "",
      ].join("\n"),
    );
  });
});

describe("registry", () => {
  test("refuses invalid names, reserved labels, wrong label sets and falling counters", () => {
    const r = new MetricsRegistry();
    expect(() => r.gauge("1bad", "x")).toThrow(RangeError);
    expect(() => r.gauge("ok_name", "x", ["__reserved"])).toThrow(RangeError);
    expect(() => r.histogram("h", "x", [1], ["le"])).toThrow(RangeError);
    expect(() => r.histogram("h2", "x", [2, 1])).toThrow(RangeError);
    const c = r.counter("c_total", "x", ["a"]);
    expect(() => c.inc({ b: "1" })).toThrow(RangeError);
    expect(() => c.inc({ a: "1" }, -1)).toThrow(RangeError);
    c.setTotal({ a: "1" }, 5);
    c.setTotal({ a: "1" }, 3); // a total never goes down
    expect(r.collect()[0]?.samples).toEqual([{ labels: { a: "1" }, value: 5 }]);
    r.histogram("lat", "x", [1]);
    expect(() => r.gauge("lat_count", "x")).toThrow(/registered twice/);
  });

  test("mergeFamilies appends same-type series and leaves clashing families out", () => {
    const base: MetricFamily[] = [
      { name: "up", help: "u", type: "gauge", samples: [{ labels: {}, value: 1 }] },
      {
        name: "lat",
        help: "l",
        type: "histogram",
        samples: [],
      },
    ];
    const extra: MetricFamily[] = [
      {
        name: "up",
        help: "other",
        type: "gauge",
        samples: [{ labels: { instance: "a" }, value: 0 }],
      },
      { name: "up", help: "dup", type: "gauge", samples: [{ labels: {}, value: 9 }] },
      { name: "lat_count", help: "clash", type: "gauge", samples: [{ labels: {}, value: 2 }] },
      { name: "up_total", help: "new", type: "counter", samples: [{ labels: {}, value: 2 }] },
      { name: "lat", help: "type clash", type: "gauge", samples: [{ labels: {}, value: 2 }] },
    ];
    const merged = mergeFamilies(base, extra);
    expect(merged.map((f) => f.name)).toEqual(["up", "lat", "up_total"]);
    expect(merged[0]?.samples).toEqual([
      { labels: {}, value: 1 },
      { labels: { instance: "a" }, value: 0 },
    ]);
    expect(base[0]?.samples).toHaveLength(1); // inputs untouched
  });
});

describe("agent metrics", () => {
  test("golden text from a fixed snapshot", () => {
    const text = renderPrometheusText(agentMetricFamilies(snapshot()));
    const { expected, actual } = golden("agent-metrics.prom", text);
    expect(actual).toBe(expected as string);
  });

  test("totals include ended sessions; per-device series merge a device's sessions", () => {
    const text = renderPrometheusText(agentMetricFamilies(snapshot()));
    // closed 5 000 000 + open 1 048 576 + 19
    expect(text).toContain('bgproxy_agent_relay_bytes_total{direction="up"} 6048595\n');
    expect(text).toContain('bgproxy_agent_session_buffered_bytes{device_ip="10.250.15.2"} 16384\n');
    expect(text).toContain("bgproxy_agent_md5_keys_installed 4\n");
    expect(text).toContain('bgproxy_agent_heartbeat_rtt_seconds_bucket{le="+Inf"} 8\n');
  });

  test(`cardinality: no per-device series above ${MAX_DEVICE_SERIES} devices, aggregates stay`, () => {
    const many = Array.from({ length: MAX_DEVICE_SERIES + 1 }, (_, i) =>
      session({
        sessionId: `s${i}`,
        tuple: {
          proto: "BGP",
          deviceIp: `10.0.${i >> 8}.${i & 255}`,
          devicePort: 1000 + i,
          proxyIp: "10.0.0.254",
          proxyPort: 179,
        },
        bufferedBytes: i,
      }),
    );
    const at = (n: number) =>
      renderPrometheusText(
        agentMetricFamilies(snapshot({ status: status({ sessions: many.slice(0, n) }) })),
      );
    expect(at(MAX_DEVICE_SERIES).match(/^bgproxy_agent_session_buffered_bytes\{/gm)).toHaveLength(
      MAX_DEVICE_SERIES,
    );
    const over = at(MAX_DEVICE_SERIES + 1);
    expect(over).not.toMatch(/^bgproxy_agent_session_buffered_bytes\{/m);
    expect(over).toContain(`bgproxy_agent_session_buffered_bytes_max ${MAX_DEVICE_SERIES}\n`);
    expect(over).toContain(`bgproxy_agent_sessions_active ${MAX_DEVICE_SERIES + 1}\n`);
  });
});

describe.skipIf(!promtoolPath)(`promtool check metrics${promtoolSkipNote}`, () => {
  test("the agent's output is valid and lint-clean", () => {
    const r = promtool(renderPrometheusText(agentMetricFamilies(snapshot())));
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });

  test("the gateway's output with agents' metrics merged in is valid and lint-clean", () => {
    const own = gatewayMetricFamilies({
      version: "1.2.3",
      devices: [
        {
          name: 'edge "r1"',
          ip: "10.0.0.1",
          state: "established",
          sessions: 1,
          sessions_total: 3,
          updates: 10,
          prefixes: { ipv4: 100, ipv6: 5 },
        },
      ],
      agentsConnected: 2,
      exportRequests: new Map([["logs|accepted", 3]]),
      exportItems: new Map([["logs|accepted", 40]]),
      agentSeries: 12,
      process: snapshot().process,
    });
    const agentFamilies = agentMetricFamilies(snapshot()).map(
      (f) =>
        ({
          ...f,
          samples: f.samples.map((s) => ({ ...s, labels: { ...s.labels, instance: "a1" } })),
        }) as MetricFamily,
    );
    const r = promtool(renderPrometheusText(mergeFamilies(own, agentFamilies)));
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });

  test("promtool does reject a broken exposition (the check is real)", () => {
    const r = promtool("# TYPE x counter\nx 1\n# TYPE x counter\nx 2\n");
    expect(r.code).not.toBe(0);
  });
});
