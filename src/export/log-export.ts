import { Backoff } from "../core/backoff.ts";
import type { Clock, TimerHandle } from "../core/clock.ts";
import type { LogEntry } from "../core/log-tee.ts";
import { redact } from "../core/logger.ts";
import type { ExportStats } from "./export-stats.ts";
import type { OtlpResource } from "./otlp-attributes.ts";
import { encodeLogs } from "./otlp-logs.ts";
import type { OtlpSender } from "./otlp-sender.ts";

/**
 * Ships log records in batches. `push` only appends to a bounded queue (the oldest record
 * is dropped, and counted, when it is full): logging never waits for the network. One
 * request is in flight at a time; a failed batch goes back to the front of the queue and
 * the next attempt waits with exponential backoff (or Retry-After). A batch the endpoint
 * refuses for good (HTTP 400, credentials refused) is dropped and counted.
 */
export interface LogExportOptions {
  readonly sender: OtlpSender;
  readonly resource: OtlpResource;
  readonly clock: Clock;
  /** Most records held; default 5000. */
  readonly capacity?: number;
  /** Most records per request; default 500. */
  readonly batchSize?: number;
  /** How long a record may wait for a fuller batch; default 1 s. */
  readonly flushMs?: number;
  readonly backoff?: Backoff;
  /** Backoff after refused credentials; default 30 s doubling to 10 min. */
  readonly authBackoff?: Backoff;
}

export class LogExporter {
  private queue: LogEntry[] = [];
  private head = 0;
  private inFlight = false;
  private timer?: TimerHandle;
  private retryAt = 0;
  private closed = false;
  private sent = 0;
  private dropped = 0;
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly backoff: Backoff;
  private readonly authBackoff: Backoff;

  constructor(private readonly options: LogExportOptions) {
    this.capacity = options.capacity ?? 5_000;
    this.batchSize = options.batchSize ?? 500;
    this.flushMs = options.flushMs ?? 1_000;
    this.backoff = options.backoff ?? new Backoff();
    this.authBackoff =
      options.authBackoff ??
      new Backoff({ initialMs: 30_000, maxMs: 600_000, multiplier: 2, jitter: 0.3 });
  }

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Queue a record (redacted here, before it can leave the process). Never blocks. */
  push(entry: LogEntry): void {
    if (this.closed) return;
    if (this.size >= this.capacity) {
      this.head++;
      this.dropped++;
    }
    this.queue.push({ ...entry, fields: redact(entry.fields) as LogEntry["fields"] });
    this.compact();
    if (this.size >= this.batchSize) this.schedule(0);
    else this.schedule(this.flushMs);
  }

  stats(): ExportStats {
    return {
      signal: "logs",
      queued: this.size,
      sent: this.sent,
      dropped: this.dropped,
      failedRequests: this.options.sender.failedRequests,
      failing: this.options.sender.failing,
    };
  }

  /** Stop; try one last flush of what is queued, waiting at most `waitMs`. */
  async close(waitMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    if (this.inFlight || this.size === 0 || this.options.sender.failing) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = this.options.clock.schedule(waitMs, resolve);
      }),
    ]);
    timer?.cancel();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** Make sure a flush happens within `ms` (sooner timers win; backoff is respected). */
  private schedule(ms: number): void {
    if (this.closed || this.inFlight) return;
    const now = this.options.clock.now();
    const at = Math.max(now + ms, this.retryAt);
    if (this.timer && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.options.clock.schedule(at - now, () => {
      this.timer = undefined;
      void this.flush();
    });
  }

  private timerAt = 0;

  private async flush(): Promise<void> {
    if (this.inFlight || this.size === 0) return;
    this.inFlight = true;
    const batch = this.queue.slice(this.head, this.head + this.batchSize);
    this.head += batch.length;
    this.compact();
    const clock = this.options.clock;
    const outcome = await this.options.sender.send(
      encodeLogs(batch, this.options.resource, clock.now()),
    );
    this.inFlight = false;
    if (outcome.ok) {
      this.sent += batch.length;
      this.backoff.reset();
      this.authBackoff.reset();
      this.retryAt = 0;
    } else if (outcome.retryable) {
      this.requeue(batch);
      this.retryAt = clock.now() + (outcome.retryAfterMs ?? this.backoff.next());
    } else {
      this.dropped += batch.length;
      if (outcome.auth) this.retryAt = clock.now() + this.authBackoff.next();
    }
    if (this.size > 0) this.schedule(this.size >= this.batchSize ? 0 : this.flushMs);
  }

  /** Put a failed batch back in front, dropping the oldest records beyond capacity. */
  private requeue(batch: readonly LogEntry[]): void {
    if (this.closed) {
      this.dropped += batch.length;
      return;
    }
    const all = [...batch, ...this.queue.slice(this.head)];
    const excess = Math.max(0, all.length - this.capacity);
    this.dropped += excess;
    this.queue = all.slice(excess);
    this.head = 0;
  }
}
