import { gunzipSync } from "node:zlib";
import type { AccountConfig } from "../config/types.ts";
import { errorMessage } from "../core/errors.ts";
import type { LogFields, Logger } from "../core/logger.ts";
import { rfc3339Nano } from "../core/timestamp.ts";
import type { ExportSignal } from "../export/export-stats.ts";
import { OtlpDecodeError } from "../export/otlp-error.ts";
import { decodeLogs } from "../export/otlp-logs.ts";
import { decodeMetrics } from "../export/otlp-metrics.ts";
import { type HeaderReader, MetadataKey, readCredentials } from "../proto/metadata.ts";
import type { AgentMetricsStore } from "./agent-metrics-store.ts";
import { authenticate } from "./auth.ts";

/**
 * The gateway's OTLP/HTTP receiver (JSON encoding, optionally gzip): agents POST their
 * logs and metrics here with the same credentials as their gRPC calls
 * (`x-ch-auth-email`, `x-ch-auth-api-token`). Served at the OTLP paths `/v1/logs`,
 * `/v1/metrics` and at the reference product's `/agents/v202204/logs`, `.../metrics`.
 *
 * Logs are written to the gateway's log, tagged `component=agent` and `instance=<uuid>`
 * (the agent's own component is kept as `agent_component`, its time as `agent_time`).
 * Metrics go to the AgentMetricsStore. Errors answer with an OTLP Status body
 * (`{"code", "message"}`): 400 malformed, 401 credentials, 413 too large, 415 protobuf.
 */
export const OTLP_PATHS: Readonly<Record<ExportSignal, readonly string[]>> = {
  logs: ["/v1/logs", "/agents/v202204/logs"],
  metrics: ["/v1/metrics", "/agents/v202204/metrics"],
};

export const MAX_EXPORT_BODY_BYTES = 4 * 1024 * 1024;
/** Log records taken from one request; the rest are reported as rejected. */
export const MAX_LOG_RECORDS_PER_REQUEST = 5_000;
const MAX_MESSAGE_CHARS = 8_192;

export type ExportOutcome = "accepted" | "invalid" | "unauthorized" | "too_large" | "unsupported";

export interface ReceiverStats {
  /** Requests by signal and outcome. */
  readonly requests: ReadonlyMap<string, number>;
  /** Log records / metric data points by signal and "accepted" | "rejected". */
  readonly items: ReadonlyMap<string, number>;
}

export interface OtlpReceiverDeps {
  readonly accounts: readonly AccountConfig[];
  readonly logger: Logger;
  readonly store: AgentMetricsStore;
  readonly now?: () => number;
}

type Handler = (req: Request) => Promise<Response>;

function status(httpStatus: number, code: number, message: string): Response {
  return new Response(`${JSON.stringify({ code, message })}\n`, {
    status: httpStatus,
    headers: { "content-type": "application/json" },
  });
}

const INSTANCE = /^[A-Za-z0-9._:-]{1,128}$/;

export class OtlpReceiver {
  private readonly requests = new Map<string, number>();
  private readonly items = new Map<string, number>();
  /** When each agent instance last sent logs. */
  readonly lastLogs = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly deps: OtlpReceiverDeps) {
    this.now = deps.now ?? Date.now;
  }

  stats(): ReceiverStats {
    return { requests: new Map(this.requests), items: new Map(this.items) };
  }

  /** POST handlers by path. */
  routes(): Record<string, Handler> {
    const out: Record<string, Handler> = {};
    for (const p of OTLP_PATHS.logs) out[p] = (req) => this.handle(req, "logs");
    for (const p of OTLP_PATHS.metrics) out[p] = (req) => this.handle(req, "metrics");
    return out;
  }

  private count(map: Map<string, number>, key: string, by = 1): void {
    if (by > 0) map.set(key, (map.get(key) ?? 0) + by);
  }

  private outcome(signal: ExportSignal, outcome: ExportOutcome): void {
    this.count(this.requests, `${signal}|${outcome}`);
  }

  private async handle(req: Request, signal: ExportSignal): Promise<Response> {
    const type = (req.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      this.outcome(signal, "unsupported");
      return status(415, 3, "only OTLP/JSON (content-type application/json) is accepted");
    }
    const read: HeaderReader = (name) => req.headers.get(name) ?? undefined;
    const { email, token } = readCredentials(read);
    const account = authenticate({ email, token }, this.deps.accounts);
    if (!account) {
      this.outcome(signal, "unauthorized");
      this.deps.logger.warn("refused an export: invalid credentials", {
        component: "gateway/otlp",
        email: email ?? "",
        signal,
      });
      return status(401, 16, "invalid credentials");
    }
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > MAX_EXPORT_BODY_BYTES) {
      this.outcome(signal, "too_large");
      return status(413, 3, `body larger than ${MAX_EXPORT_BODY_BYTES} bytes`);
    }
    let body: unknown;
    try {
      let bytes: Uint8Array = new Uint8Array(await req.arrayBuffer());
      if (bytes.length > MAX_EXPORT_BODY_BYTES) {
        this.outcome(signal, "too_large");
        return status(413, 3, `body larger than ${MAX_EXPORT_BODY_BYTES} bytes`);
      }
      if ((req.headers.get("content-encoding") ?? "").toLowerCase() === "gzip") {
        bytes = gunzipSync(bytes, { maxOutputLength: MAX_EXPORT_BODY_BYTES });
      }
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      this.outcome(signal, "invalid");
      return status(400, 3, `cannot read the body: ${errorMessage(err)}`);
    }
    const headerInstance = read(MetadataKey.INSTANCE);
    try {
      return signal === "logs"
        ? this.acceptLogs(body, headerInstance)
        : this.acceptMetrics(body, headerInstance);
    } catch (err) {
      if (!(err instanceof OtlpDecodeError)) throw err;
      this.outcome(signal, "invalid");
      return status(400, 3, err.message);
    }
  }

  private instanceOf(resource: Record<string, unknown>, header: string | undefined): string {
    const fromResource = resource["service.instance.id"];
    const candidate = typeof fromResource === "string" ? fromResource : header;
    return candidate !== undefined && INSTANCE.test(candidate) ? candidate : "unknown";
  }

  private acceptLogs(body: unknown, headerInstance: string | undefined): Response {
    const batches = decodeLogs(body);
    let taken = 0;
    let rejected = 0;
    const now = this.now();
    for (const batch of batches) {
      const instance = this.instanceOf(batch.resource, headerInstance);
      const log = this.deps.logger.child({ component: "agent", instance });
      for (const entry of batch.entries) {
        if (taken >= MAX_LOG_RECORDS_PER_REQUEST) {
          rejected++;
          continue;
        }
        taken++;
        const { component, instance: _spoofed, ...rest } = entry.fields;
        const fields: LogFields = {
          ...rest,
          ...(component === undefined ? {} : { agent_component: component }),
          agent_time: rfc3339Nano(entry.timeMs),
        };
        const msg =
          entry.msg.length > MAX_MESSAGE_CHARS
            ? `${entry.msg.slice(0, MAX_MESSAGE_CHARS)}…`
            : entry.msg;
        log[entry.level](msg, fields);
      }
      if (batch.entries.length > 0) this.lastLogs.set(instance, now);
    }
    this.outcome("logs", "accepted");
    this.count(this.items, "logs|accepted", taken);
    this.count(this.items, "logs|rejected", rejected);
    return this.ok(rejected, "rejectedLogRecords", "too many log records in one request");
  }

  private acceptMetrics(body: unknown, headerInstance: string | undefined): Response {
    const batches = decodeMetrics(body);
    let accepted = 0;
    let rejected = 0;
    for (const batch of batches) {
      const instance = this.instanceOf(batch.resource, headerInstance);
      const result = this.deps.store.put(instance, batch.families);
      accepted += result.accepted;
      rejected += batch.rejected + result.rejected;
    }
    this.outcome("metrics", "accepted");
    this.count(this.items, "metrics|accepted", accepted);
    this.count(this.items, "metrics|rejected", rejected);
    return this.ok(
      rejected,
      "rejectedDataPoints",
      "data points without a Prometheus counterpart, or over the per-agent series limit",
    );
  }

  private ok(rejected: number, field: string, why: string): Response {
    const body =
      rejected === 0 ? {} : { partialSuccess: { [field]: String(rejected), errorMessage: why } };
    return new Response(`${JSON.stringify(body)}\n`, {
      headers: { "content-type": "application/json" },
    });
  }
}
