import { describe, expect, test } from "bun:test";
import { SessionLogBudget } from "../../src/core/session-log-budget.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

describe("SessionLogBudget", () => {
  test("sessions over the budget log at debug; one line says so per interval", () => {
    const clock = new ManualClock();
    const logs = captureLogs();
    const budget = new SessionLogBudget(logs.logger, clock, { perInterval: 3, intervalMs: 10_000 });
    for (let i = 0; i < 10; i++) {
      const log = budget.forSession(logs.logger).child({ session_id: `s${i}` });
      log.info("opened");
      log.warn("ended");
      log.error("broke");
    }
    const at = (level: string) => logs.records().filter((r) => r.level === level);
    expect(at("info").map((r) => r.msg)).toEqual(["opened", "opened", "opened"]);
    expect(at("error")).toHaveLength(10);
    const notices = logs.find(/over the log budget/);
    expect(notices).toHaveLength(1);
    clock.advance(10_000);
    expect(logs.find(/over the log budget/)[1]).toMatchObject({ repeated: 6 });
    // A new interval, a new budget.
    budget.forSession(logs.logger).info("opened");
    expect(at("info")).toHaveLength(4);
  });
});
