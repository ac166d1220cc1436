import type { AccountConfig } from "../config/types.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { RepeatedLog } from "../core/repeated-log.ts";
import type { AgentCredentials } from "../proto/metadata.ts";
import { authenticate } from "./auth.ts";

/**
 * Agent logins, throttled per source address: after `maxFailures` failed logins within
 * `windowMs`, calls from that address are refused without looking at their credentials
 * for `blockMs`, doubling with each new block up to `maxBlockMs`; a good login clears
 * the address. Refusals are logged through a RepeatedLog: the first for an address at
 * once, then one count per interval, so a flood of wrong tokens cannot fill the journal.
 * The table of addresses is bounded (the oldest goes first).
 */
export interface LoginLimits {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly maxBlockMs: number;
  readonly maxSources: number;
  readonly logIntervalMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxFailures: 10,
  windowMs: 60_000,
  blockMs: 10_000,
  maxBlockMs: 600_000,
  maxSources: 10_000,
  logIntervalMs: 60_000,
};

export type LoginOutcome =
  | { readonly kind: "ok"; readonly account: AccountConfig }
  | { readonly kind: "invalid" }
  | { readonly kind: "throttled"; readonly retryAfterMs: number };

interface Source {
  failures: number;
  windowStart: number;
  blockedUntil: number;
  blocks: number;
}

/**
 * The address part of a grpc-js server peer string: "192.0.2.1:5000", "2001:db8::1:5000"
 * (grpc-js writes the address and port without brackets), "[::1]:5000", "ipv4:..."
 */
export function peerSource(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const v6 = /^\[([^\]]*)\]/.exec(bare);
  if (v6) return v6[1] ?? bare;
  return /^(.+):\d+$/.exec(bare)?.[1] ?? bare;
}

export class LoginGuard {
  private readonly sources = new Map<string, Source>();
  private readonly log: RepeatedLog;

  constructor(
    private readonly accounts: readonly AccountConfig[],
    logger: Logger,
    private readonly clock: Clock,
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    /** Told of every good login, with the call's peer (for the handshake guard). */
    private readonly onLogin: (peer: string) => void = () => {},
  ) {
    this.log = new RepeatedLog(logger, clock, limits.logIntervalMs);
  }

  /** Checks one call's credentials from `peer`; logs a refusal. */
  login(creds: AgentCredentials, peer: string): LoginOutcome {
    const source = peerSource(peer);
    const now = this.clock.now();
    const entry = this.sources.get(source);
    if (entry && entry.blockedUntil > now) {
      this.log.warn(`throttled|${source}`, "refused an agent: too many failed logins", {
        source,
        peer,
        retry_after_s: Math.ceil((entry.blockedUntil - now) / 1000),
      });
      return { kind: "throttled", retryAfterMs: entry.blockedUntil - now };
    }
    const account = authenticate(creds, this.accounts);
    if (account) {
      this.sources.delete(source);
      this.onLogin(peer);
      return { kind: "ok", account };
    }
    this.failed(source, now);
    this.log.warn(`invalid|${source}`, "refused an agent: invalid credentials", {
      email: creds.email ?? "",
      source,
      peer,
    });
    return { kind: "invalid" };
  }

  private failed(source: string, now: number): void {
    let entry = this.sources.get(source);
    if (!entry) {
      if (this.sources.size >= this.limits.maxSources) {
        const oldest = this.sources.keys().next().value;
        if (oldest !== undefined) this.sources.delete(oldest);
      }
      entry = { failures: 0, windowStart: now, blockedUntil: 0, blocks: 0 };
      this.sources.set(source, entry);
    }
    if (now - entry.windowStart > this.limits.windowMs) {
      entry.failures = 0;
      entry.windowStart = now;
    }
    entry.failures++;
    if (entry.failures < this.limits.maxFailures) return;
    const ms = Math.min(this.limits.blockMs * 2 ** entry.blocks, this.limits.maxBlockMs);
    entry.blockedUntil = now + ms;
    entry.blocks++;
    entry.failures = 0;
    entry.windowStart = now;
  }

  /** At shutdown: report what the logs still count. */
  flush(): void {
    this.log.flush();
  }
}
