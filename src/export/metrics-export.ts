import type { Clock, TimerHandle } from "../core/clock.ts";
import type { MetricFamily } from "../metrics/registry.ts";
import type { ExportStats } from "./export-stats.ts";
import type { OtlpResource } from "./otlp-attributes.ts";
import { encodeMetrics } from "./otlp-metrics.ts";
import type { OtlpSender } from "./otlp-sender.ts";

/**
 * Pushes a metrics snapshot every `intervalMs` (the first soon after start). Snapshots are
 * cumulative, so the queue holds at most one: a snapshot that fails, or that is due while
 * the previous request is still in flight, is dropped and counted — the next one carries
 * the same counters, newer.
 */
export interface MetricsExportOptions {
  readonly sender: OtlpSender;
  readonly resource: OtlpResource;
  readonly clock: Clock;
  readonly collect: () => readonly MetricFamily[];
  /** When the counters started (process start), for OTLP's startTimeUnixNano. */
  readonly startMs: number;
  /** Default 15 s. */
  readonly intervalMs?: number;
  /** Delay of the first push; default 1 s. */
  readonly firstDelayMs?: number;
}

export const DEFAULT_METRICS_EXPORT_INTERVAL_MS = 15_000;

export class MetricsExporter {
  private timer?: TimerHandle;
  private inFlight = false;
  private stopped = false;
  private sent = 0;
  private dropped = 0;

  constructor(private readonly options: MetricsExportOptions) {}

  get intervalMs(): number {
    return this.options.intervalMs ?? DEFAULT_METRICS_EXPORT_INTERVAL_MS;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = this.options.clock.schedule(this.options.firstDelayMs ?? 1_000, () => this.tick());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  stats(): ExportStats {
    return {
      signal: "metrics",
      queued: this.inFlight ? 1 : 0,
      sent: this.sent,
      dropped: this.dropped,
      failedRequests: this.options.sender.failedRequests,
      failing: this.options.sender.failing,
    };
  }

  /** Send one snapshot now (also what the timer does). */
  async push(): Promise<void> {
    if (this.inFlight) {
      this.dropped++;
      return;
    }
    this.inFlight = true;
    const now = this.options.clock.now();
    let body: unknown;
    try {
      body = encodeMetrics(
        this.options.collect(),
        this.options.resource,
        now,
        this.options.startMs,
      );
    } catch {
      this.inFlight = false;
      this.dropped++;
      return;
    }
    const outcome = await this.options.sender.send(body);
    this.inFlight = false;
    if (outcome.ok) this.sent++;
    else this.dropped++;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    void this.push();
    this.timer = this.options.clock.schedule(this.intervalMs, () => this.tick());
  }
}
