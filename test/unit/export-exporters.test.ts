import { describe, expect, test } from "bun:test";
import { Backoff } from "../../src/core/backoff.ts";
import { teeLogger } from "../../src/core/log-tee.ts";
import { LogExporter } from "../../src/export/log-export.ts";
import { MetricsExporter } from "../../src/export/metrics-export.ts";
import { decodeLogs } from "../../src/export/otlp-logs.ts";
import { decodeMetrics } from "../../src/export/otlp-metrics.ts";
import {
  classifyStatus,
  type HttpAnswer,
  OtlpSender,
  parseRetryAfter,
  safeUrl,
} from "../../src/export/otlp-sender.ts";
import type { MetricFamily } from "../../src/metrics/registry.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const RESOURCE = { serviceName: "bgproxy-agent", serviceVersion: "1.2.3", instance: "i-1" };
const URL_ = "https://user:secret@gw.example.net:4318/v1/logs";

/** Lets pending promise callbacks (the fake HTTP answers) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

interface Recorded {
  url: string;
  body: unknown;
  headers: Readonly<Record<string, string>>;
}

/** A fake endpoint: answers from `script` in order (the last one repeats); records requests. */
function endpoint(script: Array<HttpAnswer | Error>) {
  const requests: Recorded[] = [];
  let i = 0;
  const post = async (url: string, body: string, headers: Readonly<Record<string, string>>) => {
    requests.push({ url, body: JSON.parse(body), headers });
    const answer = script[Math.min(i++, script.length - 1)] ?? { status: 200 };
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { requests, post };
}

function setup(
  script: Array<HttpAnswer | Error>,
  options: { capacity?: number; batchSize?: number } = {},
) {
  const clock = new ManualClock();
  const logs = captureLogs();
  const ep = endpoint(script);
  const sender = new OtlpSender({
    url: URL_,
    headers: { "x-ch-auth-email": "ops@example.net", "x-ch-auth-api-token": "tok-secret" },
    post: ep.post,
    logger: logs.logger,
    what: "log export",
    now: () => clock.now(),
  });
  const exporter = new LogExporter({
    sender,
    resource: RESOURCE,
    clock,
    capacity: options.capacity ?? 100,
    batchSize: options.batchSize ?? 10,
    flushMs: 1_000,
    backoff: new Backoff({ initialMs: 1_000, maxMs: 8_000, multiplier: 2, jitter: 0 }),
    authBackoff: new Backoff({ initialMs: 30_000, maxMs: 60_000, multiplier: 2, jitter: 0 }),
  });
  const push = (n: number, from = 0) => {
    for (let k = from; k < from + n; k++) {
      exporter.push({ timeMs: clock.now(), level: "info", msg: `line ${k}`, fields: { k } });
    }
  };
  const sentMessages = () =>
    ep.requests.flatMap((r) => decodeLogs(r.body).flatMap((b) => b.entries.map((e) => e.msg)));
  return { clock, logs, ep, sender, exporter, push, sentMessages };
}

describe("OtlpSender", () => {
  test("status classes follow the OTLP/HTTP rules", () => {
    expect(classifyStatus(200)).toEqual({ ok: true });
    for (const s of [429, 502, 503, 504])
      expect(classifyStatus(s)).toMatchObject({ retryable: true });
    for (const s of [400, 404, 413, 500])
      expect(classifyStatus(s)).toMatchObject({ retryable: false });
    expect(classifyStatus(401)).toMatchObject({ retryable: false, auth: true });
    expect(parseRetryAfter("7", 0)).toBe(7_000);
    expect(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")),
    ).toBe(10_000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
    expect(safeUrl(URL_)).toBe("https://gw.example.net:4318/v1/logs");
  });

  test("credentials go in the headers, never in a log line", async () => {
    const h = setup([new Error("connect ECONNREFUSED")]);
    h.push(1);
    h.clock.advance(1_000);
    await settle();
    expect(h.ep.requests[0]?.headers).toMatchObject({
      "content-type": "application/json",
      "x-ch-auth-email": "ops@example.net",
      "x-ch-auth-api-token": "tok-secret",
    });
    expect(h.logs.lines.join("\n")).not.toContain("tok-secret");
    expect(h.logs.lines.join("\n")).not.toContain("user:secret");
  });
});

describe("LogExporter", () => {
  test("batches: a full batch goes at once, a partial one after flushMs", async () => {
    const h = setup([{ status: 200 }]);
    h.push(25);
    h.clock.advance(0);
    await settle();
    expect(h.ep.requests).toHaveLength(1); // 10 at once; the next batch waits for the answer
    h.clock.advance(0);
    await settle();
    expect(h.ep.requests).toHaveLength(2);
    h.clock.advance(999);
    await settle();
    expect(h.ep.requests).toHaveLength(2);
    h.clock.advance(1);
    await settle();
    expect(h.sentMessages()).toEqual(Array.from({ length: 25 }, (_, k) => `line ${k}`));
    expect(h.exporter.stats()).toMatchObject({ signal: "logs", queued: 0, sent: 25, dropped: 0 });
  });

  test("the queue is bounded: the oldest records are dropped and counted", async () => {
    const h = setup([{ status: 503 }], { capacity: 20, batchSize: 50 });
    h.push(30);
    expect(h.exporter.stats()).toMatchObject({ queued: 20, dropped: 10 });
    h.clock.advance(1_000);
    await settle();
    h.push(5, 30);
    // The failed batch went back in front; 25 records for 20 places: 5 more dropped.
    expect(h.exporter.stats()).toMatchObject({ queued: 20, dropped: 15, failedRequests: 1 });
  });

  test("an outage: one warning, retries with backoff, no loss, one recovery line", async () => {
    const h = setup([
      { status: 503 },
      new Error("socket hang up"),
      { status: 502, retryAfter: "5" },
      { status: 200 },
    ]);
    h.push(3);
    h.clock.advance(1_000); // attempt 1: 503
    await settle();
    h.clock.advance(1_000); // backoff 1 s → attempt 2: transport error
    await settle();
    expect(h.ep.requests).toHaveLength(2);
    h.clock.advance(1_999); // backoff 2 s not over yet
    await settle();
    expect(h.ep.requests).toHaveLength(2);
    h.clock.advance(1); // attempt 3: 502 with Retry-After 5 s
    await settle();
    h.clock.advance(4_999);
    await settle();
    expect(h.ep.requests).toHaveLength(3);
    h.clock.advance(1); // attempt 4: ok
    await settle();
    expect(h.ep.requests).toHaveLength(4);
    expect(h.sentMessages().slice(-3)).toEqual(["line 0", "line 1", "line 2"]);
    const warnings = h.logs.find(/^log export failing/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: "warn",
      url: "https://gw.example.net:4318/v1/logs",
    });
    expect(h.logs.find("log export recovered")).toHaveLength(1);
    expect(h.logs.find("log export recovered")[0]).toMatchObject({ failed_requests: 3 });
    expect(h.exporter.stats()).toMatchObject({
      sent: 3,
      dropped: 0,
      failedRequests: 3,
      failing: false,
    });
  });

  test("a batch refused for good is dropped; refused credentials back off long", async () => {
    const h = setup([{ status: 400 }, { status: 401 }, { status: 200 }]);
    h.push(2);
    h.clock.advance(1_000);
    await settle();
    expect(h.exporter.stats()).toMatchObject({ dropped: 2, queued: 0 });
    h.push(1, 2);
    h.clock.advance(1_000); // 401
    await settle();
    h.push(1, 3);
    h.clock.advance(29_000);
    await settle();
    expect(h.ep.requests).toHaveLength(2); // waiting out the 30 s auth backoff
    h.clock.advance(1_000);
    await settle();
    expect(h.ep.requests).toHaveLength(3);
    expect(h.exporter.stats()).toMatchObject({ dropped: 3, sent: 1 });
    expect(h.logs.find(/^log export failing: credentials refused \(HTTP 401\)/)).toHaveLength(0); // still one outage
    expect(h.logs.find(/^log export failing: HTTP 400/)).toHaveLength(1);
  });

  test("fields are redacted before they are queued", async () => {
    const h = setup([{ status: 200 }]);
    h.exporter.push({
      timeMs: 0,
      level: "info",
      msg: "opening Data stream",
      fields: {
        "client-metadata": { "x-ch-auth-api-token": ["tok-secret"], sid: ["0"] },
        md5_key: "k",
      },
    });
    h.clock.advance(1_000);
    await settle();
    const body = JSON.stringify(h.ep.requests[0]?.body);
    expect(body).not.toContain("tok-secret");
    expect(body).toContain("[redacted]");
  });

  test("close flushes what is queued, once", async () => {
    const h = setup([{ status: 200 }]);
    h.push(3);
    await h.exporter.close();
    expect(h.sentMessages()).toHaveLength(3);
    h.push(1, 3);
    h.clock.advance(10_000);
    await settle();
    expect(h.ep.requests).toHaveLength(1);
  });

  test("fed by the tee logger at the configured level, without waiting", async () => {
    const h = setup([{ status: 200 }]);
    const base = captureLogs();
    const logger = teeLogger(
      base.logger,
      (e) => h.exporter.push(e),
      "info",
      () => h.clock.now(),
    ).child({
      component: "proxy/control",
    });
    logger.debug("not exported");
    logger.info("control stream connected");
    logger.child({ device_ip: "192.0.2.1" }).warn("session ended", { reason: "closed" });
    expect(base.find("not exported")).toHaveLength(1); // still logged locally
    h.clock.advance(1_000);
    await settle();
    const [batch] = decodeLogs(h.ep.requests[0]?.body);
    expect(batch?.entries.map((e) => [e.level, e.msg, e.fields])).toEqual([
      ["info", "control stream connected", { component: "proxy/control" }],
      [
        "warn",
        "session ended",
        { component: "proxy/control", device_ip: "192.0.2.1", reason: "closed" },
      ],
    ]);
  });
});

describe("MetricsExporter", () => {
  const families: MetricFamily[] = [
    { name: "demo_total", help: "d", type: "counter", samples: [{ labels: {}, value: 3 }] },
  ];

  test("first push soon, then every interval; failures drop the snapshot and warn once", async () => {
    const clock = new ManualClock();
    const logs = captureLogs();
    const ep = endpoint([{ status: 200 }, { status: 503 }, { status: 503 }, { status: 200 }]);
    const exporter = new MetricsExporter({
      sender: new OtlpSender({
        url: "http://gw:4318/v1/metrics",
        headers: {},
        post: ep.post,
        logger: logs.logger,
        what: "metrics export",
      }),
      resource: RESOURCE,
      clock,
      collect: () => families,
      startMs: 0,
      intervalMs: 15_000,
      firstDelayMs: 1_000,
    });
    exporter.start();
    clock.advance(1_000);
    await settle();
    expect(ep.requests).toHaveLength(1);
    const [decoded] = decodeMetrics(ep.requests[0]?.body);
    expect(decoded?.families).toEqual(families);
    for (let i = 0; i < 3; i++) {
      clock.advance(15_000);
      await settle();
    }
    expect(ep.requests).toHaveLength(4);
    expect(exporter.stats()).toMatchObject({
      signal: "metrics",
      sent: 2,
      dropped: 2,
      failedRequests: 2,
      failing: false,
    });
    expect(logs.find(/^metrics export failing/)).toHaveLength(1);
    expect(logs.find("metrics export recovered")).toHaveLength(1);
    exporter.stop();
    clock.advance(60_000);
    await settle();
    expect(ep.requests).toHaveLength(4);
  });
});
