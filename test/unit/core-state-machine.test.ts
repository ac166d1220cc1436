import { describe, expect, test } from "bun:test";
import { BgpProxyError } from "../../src/core/errors.ts";
import type { LogFields, Logger } from "../../src/core/logger.ts";
import { StateMachine } from "../../src/core/state-machine.ts";

type Light = "off" | "warming" | "on" | "broken";

const TRANSITIONS: Record<Light, readonly Light[]> = {
  off: ["warming", "broken"],
  warming: ["on", "off", "broken"],
  on: ["off", "broken"],
  broken: [],
};

interface Line {
  level: string;
  msg: string;
  fields?: LogFields;
}

function stubLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, fields });
    };
  const logger: Logger = {
    error: at("error"),
    warn: at("warn"),
    info: at("info"),
    debug: at("debug"),
    trace: at("trace"),
    child: () => logger,
  };
  return logger;
}

function machine(now: () => number = () => 0, onChange?: (from: Light, to: Light) => void) {
  const lines: Line[] = [];
  const m = new StateMachine<Light>("lamp", "off", TRANSITIONS, stubLogger(lines), now, onChange);
  return { m, lines };
}

describe("StateMachine", () => {
  test("follows legal transitions and answers is()/canMove()", () => {
    const { m } = machine();
    expect(m.state).toBe("off");
    expect(m.canMove("warming")).toBe(true);
    expect(m.canMove("on")).toBe(false);
    m.moveTo("warming");
    m.moveTo("on");
    expect(m.state).toBe("on");
    expect(m.is("off", "on")).toBe(true);
    expect(m.is("off", "warming")).toBe(false);
    m.moveTo("off");
    expect(m.state).toBe("off");
  });

  test("an illegal transition throws an internal, non-retryable error and changes nothing", () => {
    let t = 1_000;
    const { m, lines } = machine(() => t);
    t = 2_000;
    let caught: unknown;
    try {
      m.moveTo("on");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BgpProxyError);
    const err = caught as BgpProxyError;
    expect(err.kind).toBe("internal");
    expect(err.retryable).toBe(false);
    expect(err.message).toBe("lamp: illegal transition off -> on");
    expect(m.state).toBe("off");
    expect(m.enteredAt).toBe(1_000);
    expect(lines).toEqual([]);
  });

  test("a terminal state refuses every move, including to itself", () => {
    const { m } = machine();
    m.moveTo("broken");
    for (const to of ["off", "warming", "on", "broken"] as const) {
      expect(() => m.moveTo(to)).toThrow("illegal transition broken -> ");
    }
  });

  test("each transition is logged at debug as `NAME OLD -> NEW`, with the reason when given", () => {
    const { m, lines } = machine();
    m.moveTo("warming");
    m.moveTo("broken", "filament snapped");
    expect(lines).toEqual([
      { level: "debug", msg: "lamp off -> warming", fields: undefined },
      { level: "debug", msg: "lamp warming -> broken", fields: { reason: "filament snapped" } },
    ]);
  });

  test("enteredAt comes from the injected clock, at construction and at each move", () => {
    let t = 5_000;
    const { m } = machine(() => t);
    expect(m.enteredAt).toBe(5_000);
    t = 7_500;
    expect(m.enteredAt).toBe(5_000);
    m.moveTo("warming");
    expect(m.enteredAt).toBe(7_500);
    t = 9_001;
    m.moveTo("on");
    expect(m.enteredAt).toBe(9_001);
  });

  test("onChange sees each legal move once, after the state changed", () => {
    const seen: string[] = [];
    const { m } = machine(
      () => 0,
      (from, to) => seen.push(`${from}>${to}:${m.state}`),
    );
    m.moveTo("warming");
    expect(() => m.moveTo("warming")).toThrow();
    m.moveTo("off");
    expect(seen).toEqual(["off>warming:warming", "warming>off:off"]);
  });
});
