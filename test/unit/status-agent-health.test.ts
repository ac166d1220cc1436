import { describe, expect, test } from "bun:test";
import type { ControlStatus } from "../../src/agent/control-channel.ts";
import {
  type AgentCheckInput,
  agentChecks,
  heartbeatFreshMs,
} from "../../src/agent/status/agent-checks.ts";
import {
  type CheckOutcome,
  DEFAULT_HEALTH_LIMITS,
  type HealthLimits,
  HealthMonitor,
  healthReport,
  settle,
} from "../../src/agent/status/agent-health.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const LIMITS: HealthLimits = { intervalMs: 5_000, timeoutMs: 5_000, maxAgeMs: 30_000, pollMs: 250 };
const T0 = 1_700_000_000_000;

describe("healthReport (pure)", () => {
  test("initializing until a run finished; then the last result", () => {
    expect(healthReport({}, T0, LIMITS)).toEqual({
      status: "initializing",
      timestamp: T0,
      problems: [],
    });
    expect(healthReport({ runningSince: T0 }, T0 + 4_999, LIMITS).status).toBe("initializing");
    const last = { status: "ok" as const, finishedAt: T0, problems: [] };
    expect(healthReport({ last }, T0 + 10, LIMITS)).toEqual({
      status: "ok",
      timestamp: T0,
      problems: [],
    });
    const failing = {
      status: "failing" as const,
      finishedAt: T0,
      problems: [{ check: "x", error: "y" }],
    };
    expect(healthReport({ last: failing }, T0 + 10, LIMITS).status).toBe("failing");
  });

  test("a run past its deadline is a timeout, even before the first result", () => {
    const r = healthReport({ runningSince: T0 }, T0 + 5_001, LIMITS);
    expect(r.status).toBe("timeout");
    expect(r.timestamp).toBe(T0 + 5_000);
    const last = { status: "ok" as const, finishedAt: T0 - 1, problems: [] };
    expect(healthReport({ runningSince: T0, last }, T0 + 6_000, LIMITS).status).toBe("timeout");
  });

  test("a result older than maxAgeMs is old_result, stamped with its own time", () => {
    const last = { status: "ok" as const, finishedAt: T0, problems: [] };
    expect(healthReport({ last }, T0 + 30_000, LIMITS).status).toBe("ok");
    const old = healthReport({ last }, T0 + 30_001, LIMITS);
    expect(old.status).toBe("old_result");
    expect(old.timestamp).toBe(T0);
  });

  test("settle: pending keeps the run open; any failing fails it", () => {
    expect(
      settle([
        { check: "a", state: "ok" },
        { check: "b", state: "pending", error: "w" },
      ]),
    ).toBe(undefined);
    expect(settle([{ check: "a", state: "ok" }])).toEqual({ status: "ok", problems: [] });
    expect(settle([{ check: "a", state: "failing", error: "down" }])).toEqual({
      status: "failing",
      problems: [{ check: "a", error: "down" }],
    });
  });
});

/** A monitor over a mutable list of outcomes, on a manual clock. */
function monitor(limits = LIMITS) {
  const clock = new ManualClock(T0);
  const logs = captureLogs();
  let outcomes: CheckOutcome[] = [
    { check: "control_stream", state: "pending", error: "connecting" },
  ];
  const m = new HealthMonitor(() => outcomes, clock, logs.logger, limits);
  return {
    clock,
    logs,
    m,
    set(next: CheckOutcome[]) {
      outcomes = next;
    },
  };
}

const OK: CheckOutcome[] = [{ check: "control_stream", state: "ok" }];
const DOWN: CheckOutcome[] = [
  { check: "control_stream", state: "failing", error: "control stream down: refused" },
];

describe("HealthMonitor (manual clock)", () => {
  test("initializing → ok when the control stream connects within the run's time", () => {
    const h = monitor();
    h.m.start();
    expect(h.m.report().status).toBe("initializing");
    h.clock.advance(1_000);
    expect(h.m.report().status).toBe("initializing");
    h.set(OK);
    h.clock.advance(250);
    const r = h.m.report();
    expect(r.status).toBe("ok");
    expect(r.timestamp).toBe(T0 + 1_250);
    expect(h.logs.find("health ok")).toHaveLength(1);
  });

  test("initializing → timeout when the checks never settle", () => {
    const h = monitor();
    h.m.start();
    h.clock.advance(5_000);
    const r = h.m.report();
    expect(r.status).toBe("timeout");
    expect(r.problems[0]?.error).toContain("still connecting");
    const warn = h.logs.find("health timeout");
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({ level: "warn", from: "initializing" });
  });

  test("ok → failing → ok, one log line per change, not per run", () => {
    const h = monitor();
    h.set(OK);
    h.m.start();
    expect(h.m.report().status).toBe("ok");
    h.set(DOWN);
    h.clock.advance(5_000);
    expect(h.m.report()).toMatchObject({
      status: "failing",
      problems: [{ check: "control_stream", error: "control stream down: refused" }],
    });
    h.clock.advance(20_000); // four more failing runs
    expect(h.logs.find("health failing")).toHaveLength(1);
    h.set(OK);
    h.clock.advance(5_000);
    expect(h.m.report().status).toBe("ok");
    expect(h.logs.find("health ok")).toHaveLength(2);
    expect(h.logs.find(/^health (ok|failing|timeout)$/).map((r) => r.msg)).toEqual([
      "health ok",
      "health failing",
      "health ok",
    ]);
  });

  test("runs repeat every interval after the previous one ended", () => {
    const h = monitor();
    let runs = 0;
    const clock = new ManualClock(T0);
    const m = new HealthMonitor(
      () => {
        runs++;
        return OK;
      },
      clock,
      h.logs.logger,
      LIMITS,
    );
    m.start();
    clock.advance(5_000 * 4);
    expect(runs).toBe(5);
    m.stop();
    clock.advance(60_000);
    expect(runs).toBe(5);
  });

  test("a stalled checker reports old_result", () => {
    const h = monitor();
    h.set(OK);
    h.m.start();
    h.m.stop(); // no more runs: as if the event loop had stopped scheduling them
    h.clock.advance(30_001);
    const r = h.m.report();
    expect(r.status).toBe("old_result");
    expect(r.timestamp).toBe(T0);
  });
});

function control(overrides: Partial<ControlStatus>): ControlStatus {
  return {
    state: "ready",
    connected: true,
    since: T0,
    messagesRx: 1,
    reconnects: 0,
    lastRx: T0,
    ...overrides,
  };
}

function input(c: ControlStatus, bound = 2): AgentCheckInput {
  return {
    control: c,
    listenersBound: bound,
    listenersConfigured: 2,
    heartbeat: { intervalMs: 10_000, timeoutMs: 30_000 },
  };
}

describe("agentChecks (pure)", () => {
  test("ready with fresh heartbeats and every listener bound: all ok", () => {
    expect(agentChecks(input(control({})), T0 + 20_000)).toEqual([
      { check: "control_stream", state: "ok" },
      { check: "heartbeat", state: "ok" },
      { check: "listeners", state: "ok" },
    ]);
  });

  test("heartbeats older than two intervals fail", () => {
    expect(heartbeatFreshMs({ intervalMs: 10_000, timeoutMs: 30_000 })).toBe(20_000);
    expect(heartbeatFreshMs({ intervalMs: 10_000, timeoutMs: 15_000 })).toBe(15_000);
    const out = agentChecks(input(control({ lastRx: T0 })), T0 + 20_001);
    expect(out[1]).toEqual({
      check: "heartbeat",
      state: "failing",
      error: "nothing heard from the gateway for 20001 ms (limit 20000 ms)",
    });
  });

  test("connecting is pending; backoff fails with the reason; a missing listener fails", () => {
    expect(
      agentChecks(input(control({ state: "connecting", connected: false })), T0)[0]?.state,
    ).toBe("pending");
    expect(
      agentChecks(
        input(control({ state: "backoff", connected: false, lastError: "refused" })),
        T0,
      )[0],
    ).toEqual({ check: "control_stream", state: "failing", error: "control stream down: refused" });
    expect(agentChecks(input(control({}), 1), T0).at(-1)).toEqual({
      check: "listeners",
      state: "failing",
      error: "1 of 2 router listeners not bound",
    });
  });

  test("the defaults are those documented", () => {
    expect(DEFAULT_HEALTH_LIMITS).toEqual({
      intervalMs: 5_000,
      timeoutMs: 5_000,
      maxAgeMs: 30_000,
      pollMs: 250,
    });
  });
});
