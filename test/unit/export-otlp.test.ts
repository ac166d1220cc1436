import { describe, expect, test } from "bun:test";
import { agentMetricFamilies } from "../../src/agent/status/agent-metrics.ts";
import { unixNanos } from "../../src/core/timestamp.ts";
import {
  fromKeyValues,
  type OtlpResource,
  toAnyValue,
  toKeyValues,
} from "../../src/export/otlp-attributes.ts";
import { OtlpDecodeError } from "../../src/export/otlp-error.ts";
import { decodeLogs, encodeLogs, type LogEntry, levelOf } from "../../src/export/otlp-logs.ts";
import { decodeMetrics, encodeMetrics } from "../../src/export/otlp-metrics.ts";
import { renderPrometheusText } from "../../src/metrics/prometheus-text.ts";
import { golden, NOW, snapshot } from "../fixtures/status/snapshot.ts";

const RESOURCE: OtlpResource = {
  serviceName: "bgproxy-agent",
  serviceVersion: "1.2.3",
  instance: "9ef12a66-47ff-45b5-b56b-23a76941c655",
  extra: { "bgproxy.site_id": 7 },
};

const ENTRIES: LogEntry[] = [
  {
    timeMs: NOW,
    level: "warn",
    msg: "Deny-listed an INVALID / UNKNOWN device",
    fields: {
      component: "proxy/client-data",
      device_ip: "::1",
      ttl_seconds: 1200,
      nested: { ok: true, ratio: 0.5, list: ["a", 1] },
      skipped: undefined,
    },
  },
  { timeMs: NOW + 0.25, level: "debug", msg: "control stream ready -> backoff", fields: {} },
];

describe("attributes", () => {
  test("JSON mapping: 64-bit integers as strings, doubles, booleans, lists, maps", () => {
    expect(toAnyValue(42)).toEqual({ intValue: "42" });
    expect(toAnyValue(0.5)).toEqual({ doubleValue: 0.5 });
    expect(toAnyValue(true)).toEqual({ boolValue: true });
    expect(toAnyValue(null)).toBeUndefined();
    expect(toAnyValue(new Uint8Array([1, 2]))).toEqual({ bytesValue: "AQI=" });
    expect(fromKeyValues(toKeyValues({ a: 1, b: "x", c: [1, "y"], d: { e: false } }))).toEqual({
      a: 1,
      b: "x",
      c: [1, "y"],
      d: { e: false },
    });
  });

  test("odd input is skipped, not thrown", () => {
    expect(fromKeyValues("nope")).toEqual({});
    expect(
      fromKeyValues([
        { key: "" },
        { key: "x", value: { weird: 1 } },
        null,
        { key: "y", value: { stringValue: "ok" } },
      ]),
    ).toEqual({ y: "ok" });
  });
});

describe("logs", () => {
  test("ExportLogsServiceRequest golden JSON", () => {
    const body = encodeLogs(ENTRIES, RESOURCE, NOW + 5);
    const { expected, actual } = golden("otlp-logs.json", body);
    expect(actual).toEqual(expected);
  });

  test("round trip keeps time, level, message and fields", () => {
    const [batch] = decodeLogs(JSON.parse(JSON.stringify(encodeLogs(ENTRIES, RESOURCE, NOW))));
    expect(batch?.resource["service.instance.id"]).toBe(RESOURCE.instance);
    expect(batch?.entries).toEqual([
      {
        timeMs: NOW,
        level: "warn",
        msg: "Deny-listed an INVALID / UNKNOWN device",
        fields: {
          component: "proxy/client-data",
          device_ip: "::1",
          ttl_seconds: 1200,
          nested: { ok: true, ratio: 0.5, list: ["a", 1] },
        },
      },
      { timeMs: NOW + 0.25, level: "debug", msg: "control stream ready -> backoff", fields: {} },
    ]);
  });

  test("severity ranges and texts map to our levels", () => {
    expect([1, 4, 5, 9, 12, 13, 17, 21, 24].map((n) => levelOf(n, undefined))).toEqual([
      "trace",
      "trace",
      "debug",
      "info",
      "info",
      "warn",
      "error",
      "error",
      "error",
    ]);
    expect(levelOf(undefined, "WARNING")).toBe("warn");
    expect(levelOf(0, "FATAL")).toBe("error");
    expect(levelOf(undefined, undefined)).toBe("info");
  });

  test("malformed requests are refused with a reason", () => {
    expect(() => decodeLogs([])).toThrow(OtlpDecodeError);
    expect(() => decodeLogs({ resourceLogs: {} })).toThrow("resourceLogs must be an array");
    expect(() => decodeLogs({ resourceLogs: [{ scopeLogs: [{ logRecords: [1] }] }] })).toThrow(
      "a log record must be an object",
    );
    expect(decodeLogs({})).toEqual([]);
    const [b] = decodeLogs({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { intValue: "7" } }] }] }],
    });
    expect(b?.entries[0]).toEqual({ timeMs: 0, level: "info", msg: "7", fields: {} });
  });
});

describe("metrics", () => {
  test("ExportMetricsServiceRequest golden JSON", () => {
    const families = agentMetricFamilies(snapshot());
    const body = encodeMetrics(families, RESOURCE, NOW, NOW - 60_000);
    const { expected, actual } = golden("otlp-metrics.json", body);
    expect(actual).toEqual(expected);
  });

  test("round trip through OTLP renders the same Prometheus text", () => {
    const families = agentMetricFamilies(snapshot());
    const body = JSON.parse(JSON.stringify(encodeMetrics(families, RESOURCE, NOW, NOW - 60_000)));
    const [decoded] = decodeMetrics(body);
    expect(decoded?.rejected).toBe(0);
    expect(decoded?.resource["service.instance.id"]).toBe(RESOURCE.instance);
    const nonEmpty = families.filter((f) => f.samples.length > 0);
    expect(renderPrometheusText(decoded?.families ?? [])).toBe(renderPrometheusText(nonEmpty));
  });

  test("what has no Prometheus counterpart is counted as rejected", () => {
    const time = unixNanos(NOW);
    const [d] = decodeMetrics({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: "ok_gauge",
                  gauge: { dataPoints: [{ asDouble: 1.5, timeUnixNano: time }] },
                },
                {
                  name: "delta_total",
                  sum: {
                    aggregationTemporality: 1,
                    isMonotonic: true,
                    dataPoints: [{ asInt: "1" }, { asInt: "2" }],
                  },
                },
                { name: "summary", summary: { dataPoints: [{}] } },
                { name: "bad name!", gauge: { dataPoints: [{ asInt: "1" }] } },
                {
                  name: "bad_hist",
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      { count: "3", sum: 1, bucketCounts: ["1", "1"], explicitBounds: [1] },
                    ],
                  },
                },
                {
                  name: "updown",
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: false,
                    dataPoints: [
                      {
                        asInt: "-3",
                        attributes: [{ key: "dotted.key", value: { stringValue: "v" } }],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    expect(d?.rejected).toBe(5); // 2 delta points, 1 summary, 1 bad name, 1 inconsistent histogram
    expect(d?.families.map((f) => [f.name, f.type])).toEqual([
      ["ok_gauge", "gauge"],
      ["bad_hist", "histogram"],
      ["updown", "gauge"],
    ]);
    expect(d?.families[2]?.samples).toEqual([{ labels: { dotted_key: "v" }, value: -3 }]);
  });

  test("malformed requests are refused", () => {
    expect(() => decodeMetrics("x")).toThrow(OtlpDecodeError);
    expect(() => decodeMetrics({ resourceMetrics: [{ scopeMetrics: "no" }] })).toThrow(
      "scopeMetrics must be an array",
    );
  });
});
