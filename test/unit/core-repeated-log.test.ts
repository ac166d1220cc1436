import { describe, expect, test } from "bun:test";
import { RepeatedLog } from "../../src/core/repeated-log.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

describe("RepeatedLog", () => {
  test("first occurrence at once, then one count per interval", () => {
    const clock = new ManualClock();
    const logs = captureLogs();
    const log = new RepeatedLog(logs.logger, clock, 10_000);
    for (let i = 0; i < 1000; i++) log.warn("a", "refused", { peer: `p${i}` });
    expect(logs.find("refused")).toHaveLength(1);
    clock.advance(10_000);
    const lines = logs.find("refused");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: "warn", repeated: 999, interval_s: 10, peer: "p999" });
    // A new interval starts with the next occurrence.
    log.warn("a", "refused", { peer: "again" });
    expect(logs.find("refused")).toHaveLength(3);
    clock.advance(10_000);
    expect(logs.find("refused")).toHaveLength(3);
  });

  test("keys are counted apart, and bounded", () => {
    const clock = new ManualClock();
    const logs = captureLogs();
    const log = new RepeatedLog(logs.logger, clock, 1_000, 2);
    for (const k of ["x", "y", "z", "w", "x"]) log.info(k, `m-${k}`);
    // x and y logged; z opened the overflow key and was logged; w counted there.
    expect(logs.records().map((r) => r.msg)).toEqual(["m-x", "m-y", "m-z"]);
    log.flush();
    expect(logs.records().map((r) => [r.msg, r.repeated])).toEqual([
      ["m-x", undefined],
      ["m-y", undefined],
      ["m-z", undefined],
      ["m-x", 1],
      ["m-z", 1],
    ]);
  });
});
