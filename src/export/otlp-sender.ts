import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

/**
 * POSTs OTLP/JSON bodies to one URL with the agent's credentials, and classifies the
 * answer as the OTLP/HTTP specification does: 2xx is accepted; 429, 502, 503 and 504 (and
 * transport errors and timeouts) may be retried, honouring Retry-After; anything else is
 * final for that body. It owns the quiet-failure rule: one warning when an outage
 * starts, one line when it ends, nothing per failed request in between.
 */
export interface HttpAnswer {
  readonly status: number;
  readonly retryAfter?: string | null;
}

/** One HTTP POST; rejects on transport errors and timeouts. */
export type HttpPost = (
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
) => Promise<HttpAnswer>;

export interface FetchOptions {
  /** PEM roots to trust (system store plus --ca-file); undefined = the runtime's store. */
  readonly ca?: string;
  /** TLS name to verify instead of the URL's host (an IP target with --tls-server-name). */
  readonly serverName?: string;
  /** http:// proxy URL (with credentials) for the request; false = direct. */
  readonly proxy?: string | false;
}

/** HttpPost over the runtime's fetch. */
export function fetchPost(options: FetchOptions = {}): HttpPost {
  return async (url, body, headers, timeoutMs) => {
    const tls =
      options.ca !== undefined || options.serverName !== undefined
        ? {
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
            ...(options.serverName !== undefined ? { serverName: options.serverName } : {}),
          }
        : undefined;
    const response = await fetch(url, {
      method: "POST",
      body,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      ...(tls ? { tls } : {}),
      ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
    } as BunFetchRequestInit);
    // Drain the body so that the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    return { status: response.status, retryAfter: response.headers.get("retry-after") };
  };
}

export type SendOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly retryable: boolean;
      /** Credentials refused: retrying soon will not help. */
      readonly auth: boolean;
      readonly reason: string;
      readonly retryAfterMs?: number;
    };

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** Retry-After as delay-seconds or an HTTP date, in ms from `now` (capped at 10 minutes). */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(600_000, Math.max(0, ms));
}

/** The outcome of an HTTP status (pure). */
export function classifyStatus(status: number, retryAfterMs?: number): SendOutcome {
  if (status >= 200 && status < 300) return { ok: true };
  const auth = status === 401 || status === 403;
  const reason = auth ? `credentials refused (HTTP ${status})` : `HTTP ${status}`;
  return {
    ok: false,
    retryable: RETRYABLE_STATUS.has(status),
    auth,
    reason,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

/** The URL without user:password, for logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return "(invalid URL)";
  }
}

export interface OtlpSenderOptions {
  readonly url: string;
  /** Credentials and other headers; never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly post: HttpPost;
  /** The exporter's own logger: not exported itself. */
  readonly logger: Logger;
  /** "log export" or "metrics export", for the log lines. */
  readonly what: string;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export class OtlpSender {
  private outage?: { since: number; failures: number };
  private failures = 0;

  constructor(private readonly options: OtlpSenderOptions) {}

  /** Whether the last request failed. */
  get failing(): boolean {
    return this.outage !== undefined;
  }

  /** Requests that failed since start. */
  get failedRequests(): number {
    return this.failures;
  }

  async send(payload: unknown): Promise<SendOutcome> {
    const now = this.options.now ?? Date.now;
    let outcome: SendOutcome;
    try {
      const answer = await this.options.post(
        this.options.url,
        JSON.stringify(payload),
        { "content-type": "application/json", ...this.options.headers },
        this.options.timeoutMs ?? 10_000,
      );
      outcome = classifyStatus(answer.status, parseRetryAfter(answer.retryAfter, now()));
    } catch (err) {
      outcome = { ok: false, retryable: true, auth: false, reason: errorMessage(err) };
    }
    if (outcome.ok) {
      if (this.outage) {
        this.options.logger.info(`${this.options.what} recovered`, {
          url: safeUrl(this.options.url),
          failed_requests: this.outage.failures,
          outage_ms: now() - this.outage.since,
        });
        this.outage = undefined;
      }
      return outcome;
    }
    this.failures++;
    if (this.outage) {
      this.outage.failures++;
    } else {
      this.outage = { since: now(), failures: 1 };
      this.options.logger.warn(
        `${this.options.what} failing: ${outcome.reason}; retrying quietly until it recovers`,
        { url: safeUrl(this.options.url) },
      );
    }
    return outcome;
  }
}
