import { describe, expect, test } from "bun:test";
import { type LogEntry, levelEnabled, teeLogger } from "../../src/core/log-tee.ts";
import { createLogger } from "../../src/core/logger.ts";

function lines(human: boolean, color?: boolean) {
  const out: string[] = [];
  const logger = createLogger({
    level: "debug",
    human,
    write: (l) => out.push(l),
    ...(color === undefined ? {} : { color }),
  });
  return { out, logger };
}

describe("fixed field order", () => {
  test("time, level, msg, then component, instance, device_ip, session-id, then the rest", () => {
    const { out, logger } = lines(false);
    logger
      .child({ "peer-addr": "10.0.0.1:5000", "session-id": "s-1", component: "proxy/client-data" })
      .info("opening Data stream", { device_ip: "10.0.0.1", instance: "i-1", extra: 1 });
    expect(Object.keys(JSON.parse(out[0] ?? "{}"))).toEqual([
      "time",
      "level",
      "msg",
      "component",
      "instance",
      "device_ip",
      "session-id",
      "peer-addr",
      "extra",
    ]);
  });
});

describe("--human-logs colours", () => {
  test("coloured level and dim keys when asked (a terminal)", () => {
    const { out, logger } = lines(true, true);
    logger.warn("control stream down", { retry_in_ms: 1000 });
    expect(out[0]).toContain("\x1b[33mWRN\x1b[0m");
    expect(out[0]).toContain("\x1b[2mretry_in_ms=\x1b[0m1000");
  });

  test("plain when written anywhere but a terminal (the default with a writer)", () => {
    const { out, logger } = lines(true);
    logger.error("boom", { a: 1 });
    expect(out[0]).not.toContain("\x1b[");
    expect(out[0]).toMatch(/^\S+ \S+ ERR boom a=1$/);
  });

  test("JSON lines are never coloured", () => {
    const { out, logger } = lines(false, true);
    logger.error("boom");
    expect(out[0]).not.toContain("\x1b[");
  });
});

describe("tee logger", () => {
  test("writes through, hands records at or above the level to the sink, with child fields", () => {
    const base = lines(false);
    const got: LogEntry[] = [];
    const log = teeLogger(
      base.logger,
      (e) => got.push(e),
      "info",
      () => 42,
    ).child({ component: "c" });
    log.debug("quiet");
    log.child({ device_ip: "192.0.2.1" }).warn("loud", { n: 1 });
    expect(base.out).toHaveLength(2);
    expect(got).toEqual([
      {
        timeMs: 42,
        level: "warn",
        msg: "loud",
        fields: { component: "c", device_ip: "192.0.2.1", n: 1 },
      },
    ]);
    expect(levelEnabled("error", "warn")).toBe(true);
    expect(levelEnabled("debug", "info")).toBe(false);
  });

  test("a sink that throws never breaks the caller", () => {
    const base = lines(false);
    const log = teeLogger(
      base.logger,
      () => {
        throw new Error("queue broken");
      },
      "trace",
    );
    expect(() => log.info("still fine")).not.toThrow();
    expect(base.out).toHaveLength(1);
  });
});
