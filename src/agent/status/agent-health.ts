import type { Clock, TimerHandle } from "../../core/clock.ts";
import type { Logger } from "../../core/logger.ts";
import { StateMachine } from "../../core/state-machine.ts";

/**
 * The agent's health, as `GET /hc` reports it (the reference product's five values):
 *
 * - `initializing`: the first check run has not finished yet;
 * - `ok`: the last run passed every check;
 * - `failing`: the last run had a failing check (control stream down, heartbeats stale, a
 *   router listener not bound ...);
 * - `timeout`: a run did not settle within `timeoutMs` (e.g. the control stream kept
 *   "connecting": the gateway neither answered nor refused);
 * - `old_result`: the last result is older than `maxAgeMs` (the checker itself stalled).
 *
 * A run evaluates the checks (pure functions of the agent's status); a check may say
 * "pending" (the control stream is still connecting), and the run then polls until every
 * check has settled or its deadline passes. Runs start every `intervalMs` after the last
 * one ended. The report is a pure function of the record and the time: the HTTP handler
 * only reads it.
 */
export type HealthStatus = "initializing" | "ok" | "failing" | "timeout" | "old_result";
export const HEALTH_STATUSES: readonly HealthStatus[] = [
  "initializing",
  "ok",
  "failing",
  "timeout",
  "old_result",
];

export type CheckOutcome =
  | { readonly check: string; readonly state: "ok" }
  | { readonly check: string; readonly state: "failing"; readonly error: string }
  | { readonly check: string; readonly state: "pending"; readonly error: string };

export interface HealthLimits {
  /** Pause between the end of one run and the start of the next. */
  readonly intervalMs: number;
  /** A run whose checks have not all settled by then ends as `timeout`. */
  readonly timeoutMs: number;
  /** A result older than this is reported as `old_result`. */
  readonly maxAgeMs: number;
  /** How often a run re-evaluates pending checks. */
  readonly pollMs: number;
}

export const DEFAULT_HEALTH_LIMITS: HealthLimits = {
  intervalMs: 5_000,
  timeoutMs: 5_000,
  maxAgeMs: 30_000,
  pollMs: 250,
};

export interface HealthProblem {
  readonly check: string;
  readonly error: string;
}

export interface HealthResult {
  readonly status: "ok" | "failing" | "timeout";
  readonly finishedAt: number;
  readonly problems: readonly HealthProblem[];
}

/** What the monitor has seen: the run in progress (if any) and the last finished one. */
export interface HealthRecord {
  readonly runningSince?: number;
  readonly last?: HealthResult;
}

export interface HealthReport {
  readonly status: HealthStatus;
  /** When this result was established (ms since the epoch). */
  readonly timestamp: number;
  readonly problems: readonly HealthProblem[];
}

/** The status to report at `now` (pure). */
export function healthReport(
  record: HealthRecord,
  now: number,
  limits: HealthLimits,
): HealthReport {
  const since = record.runningSince;
  if (since !== undefined && now - since > limits.timeoutMs) {
    return {
      status: "timeout",
      timestamp: since + limits.timeoutMs,
      problems: [{ check: "run", error: `checks did not finish within ${limits.timeoutMs} ms` }],
    };
  }
  const last = record.last;
  if (!last) return { status: "initializing", timestamp: now, problems: [] };
  if (now - last.finishedAt > limits.maxAgeMs) {
    return {
      status: "old_result",
      timestamp: last.finishedAt,
      problems: [
        { check: "run", error: `the last result is ${now - last.finishedAt} ms old` },
        ...last.problems,
      ],
    };
  }
  return { status: last.status, timestamp: last.finishedAt, problems: last.problems };
}

/** The result of one evaluation of the checks, or undefined while some are pending. */
export function settle(
  outcomes: readonly CheckOutcome[],
): Omit<HealthResult, "finishedAt"> | undefined {
  if (outcomes.some((o) => o.state === "pending")) return undefined;
  const problems = outcomes.flatMap((o) =>
    o.state === "failing" ? [{ check: o.check, error: o.error }] : [],
  );
  return { status: problems.length === 0 ? "ok" : "failing", problems };
}

const ANY: readonly HealthStatus[] = ["ok", "failing", "timeout", "old_result"];
const TRANSITIONS: Record<HealthStatus, readonly HealthStatus[]> = {
  initializing: ANY,
  ok: ["failing", "timeout", "old_result"],
  failing: ["ok", "timeout", "old_result"],
  timeout: ["ok", "failing", "old_result"],
  old_result: ["ok", "failing", "timeout"],
};

/** Runs the checks on the clock and keeps the record; logs each change of status once. */
export class HealthMonitor {
  private readonly machine: StateMachine<HealthStatus>;
  private runningSince?: number;
  private last?: HealthResult;
  private timer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly checks: (now: number) => readonly CheckOutcome[],
    private readonly clock: Clock,
    private readonly logger: Logger,
    readonly limits: HealthLimits = DEFAULT_HEALTH_LIMITS,
  ) {
    this.machine = new StateMachine<HealthStatus>(
      "health",
      "initializing",
      TRANSITIONS,
      logger,
      () => clock.now(),
    );
  }

  /** The first run starts at once. */
  start(): void {
    if (this.stopped || this.runningSince !== undefined || this.timer) return;
    this.beginRun();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  get record(): HealthRecord {
    return { runningSince: this.runningSince, last: this.last };
  }

  /** For the HTTP handler: a pure read. */
  report(now = this.clock.now()): HealthReport {
    return healthReport(this.record, now, this.limits);
  }

  private beginRun(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.runningSince = this.clock.now();
    this.poll();
  }

  private poll(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const started = this.runningSince ?? now;
    const outcomes = this.checks(now);
    const settled = settle(outcomes);
    if (settled) {
      this.finish({ ...settled, finishedAt: now });
      return;
    }
    const left = started + this.limits.timeoutMs - now;
    if (left <= 0) {
      const problems = outcomes.flatMap((o) =>
        o.state === "pending" ? [{ check: o.check, error: `still ${o.error}` }] : [],
      );
      this.finish({ status: "timeout", finishedAt: now, problems });
      return;
    }
    this.timer = this.clock.schedule(Math.min(this.limits.pollMs, left), () => this.poll());
  }

  private finish(result: HealthResult): void {
    this.runningSince = undefined;
    this.last = result;
    this.moveTo(result);
    this.timer = this.clock.schedule(this.limits.intervalMs, () => this.beginRun());
  }

  private moveTo(result: HealthResult): void {
    const from = this.machine.state;
    if (from === result.status) return;
    this.machine.moveTo(result.status);
    const fields = {
      from,
      problems: result.problems.map((p) => `${p.check}: ${p.error}`),
    };
    if (result.status === "ok") this.logger.info("health ok", { from });
    else this.logger.warn(`health ${result.status}`, fields);
  }
}
