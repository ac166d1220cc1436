import { describe, expect, test } from "bun:test";
import {
  createLogger,
  type Logger,
  type LogLevel,
  REDACTED,
  redact,
} from "../../src/core/logger.ts";

function collect(level: LogLevel, human = false): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, human, write: (line) => lines.push(line) });
  return { logger, lines };
}

function parsed(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("JSON lines", () => {
  test("one object a line: time, level, msg, then the fields", () => {
    const { logger, lines } = collect("info");
    const before = Date.now();
    logger.warn("session ended", { device_ip: "192.0.2.1", bytes_up: 42, ok: false });
    const after = Date.now();
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    const rec = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(Object.keys(rec)).toEqual(["time", "level", "msg", "device_ip", "bytes_up", "ok"]);
    expect(rec).toMatchObject({
      level: "warn",
      msg: "session ended",
      device_ip: "192.0.2.1",
      bytes_up: 42,
      ok: false,
    });
    const time = Date.parse(String(rec.time));
    expect(String(rec.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
  });

  test("a line without fields has exactly time, level and msg", () => {
    const { logger, lines } = collect("info");
    logger.error("boom");
    expect(Object.keys(parsed(lines)[0] ?? {})).toEqual(["time", "level", "msg"]);
    expect(parsed(lines)[0]).toMatchObject({ level: "error", msg: "boom" });
  });

  test("each method writes its own level name", () => {
    const { logger, lines } = collect("trace");
    logger.error("e");
    logger.warn("w");
    logger.info("i");
    logger.debug("d");
    logger.trace("t");
    expect(parsed(lines).map((r) => [r.level, r.msg])).toEqual([
      ["error", "e"],
      ["warn", "w"],
      ["info", "i"],
      ["debug", "d"],
      ["trace", "t"],
    ]);
  });
});

describe("level filtering", () => {
  const expected: Record<LogLevel, string[]> = {
    error: ["error"],
    warn: ["error", "warn"],
    info: ["error", "warn", "info"],
    debug: ["error", "warn", "info", "debug"],
    trace: ["error", "warn", "info", "debug", "trace"],
  };
  for (const [level, shown] of Object.entries(expected) as Array<[LogLevel, string[]]>) {
    test(`level ${level} shows ${shown.join(", ")}`, () => {
      const { logger, lines } = collect(level);
      logger.trace("t");
      logger.debug("d");
      logger.info("i");
      logger.warn("w");
      logger.error("e");
      expect(parsed(lines).map((r) => r.level)).toEqual([...shown].reverse());
    });
  }
});

describe("child loggers", () => {
  test("a child's fields go on every line; call fields win over them", () => {
    const { logger, lines } = collect("debug");
    const peer = logger.child({ component: "agent/session", device_ip: "192.0.2.1" });
    peer.info("opened");
    peer.debug("moved", { device_ip: "192.0.2.9", reason: "test" });
    expect(parsed(lines)).toMatchObject([
      { msg: "opened", component: "agent/session", device_ip: "192.0.2.1" },
      { msg: "moved", component: "agent/session", device_ip: "192.0.2.9", reason: "test" },
    ]);
  });

  test("a grandchild merges all levels; the parent is not changed", () => {
    const { logger, lines } = collect("info");
    const child = logger.child({ a: 1, b: 1 });
    const grandchild = child.child({ b: 2, c: 3 });
    grandchild.info("g");
    child.info("c");
    logger.info("p");
    const [g, c, p] = parsed(lines);
    expect(g).toMatchObject({ a: 1, b: 2, c: 3 });
    expect(c).toMatchObject({ a: 1, b: 1 });
    expect(c).not.toHaveProperty("c");
    expect(Object.keys(p ?? {})).toEqual(["time", "level", "msg"]);
  });
});

describe("redact()", () => {
  test("secret-looking keys are replaced, other keys kept", () => {
    expect(
      redact({
        token: "t1",
        md5_key: "k1",
        tcp_md5: "k2",
        "x-ch-auth-api-token": "t2",
        "x-ch-auth-token": "t3",
        Authorization: "Bearer x",
        password: "p",
        client_secret: "s",
        device_ip: "192.0.2.1",
        sid: "3",
      }),
    ).toEqual({
      token: REDACTED,
      md5_key: REDACTED,
      tcp_md5: REDACTED,
      "x-ch-auth-api-token": REDACTED,
      "x-ch-auth-token": REDACTED,
      Authorization: REDACTED,
      password: REDACTED,
      client_secret: REDACTED,
      device_ip: "192.0.2.1",
      sid: "3",
    });
    expect(REDACTED).toBe("[redacted]");
  });

  test("nested metadata maps and arrays are walked; a secret key's whole value goes", () => {
    const input = {
      "client-metadata": {
        "x-ch-auth-email": ["ops@example.com"],
        "x-ch-auth-api-token": ["tok-123"],
        "x-ch-auth-token": ["tok-123"],
        sid: ["0"],
      },
      peers: [{ ip: "192.0.2.1", md5_key: "m-1" }, [{ token: "tok-456" }], "plain"],
    };
    const out = redact(input);
    expect(out).toEqual({
      "client-metadata": {
        "x-ch-auth-email": ["ops@example.com"],
        "x-ch-auth-api-token": REDACTED,
        "x-ch-auth-token": REDACTED,
        sid: ["0"],
      },
      peers: [{ ip: "192.0.2.1", md5_key: REDACTED }, [{ token: REDACTED }], "plain"],
    });
    // A copy: the caller's object keeps its values.
    expect(input["client-metadata"]["x-ch-auth-api-token"]).toEqual(["tok-123"]);
  });

  test("Buffers and Uint8Arrays render as their length", () => {
    expect(redact(Buffer.from("hello"))).toBe("<5 bytes>");
    expect(redact({ data: new Uint8Array(1500), empty: Buffer.alloc(0) })).toEqual({
      data: "<1500 bytes>",
      empty: "<0 bytes>",
    });
  });

  test("primitives, null and undefined come back as they are", () => {
    for (const v of [0, 1.5, "s", true, null, undefined]) expect(redact(v)).toBe(v);
  });

  test("a secret nested deeper than the walk still never comes out in clear", () => {
    let value: Record<string, unknown> = { token: "deep-secret" };
    for (let i = 0; i < 10; i++) value = { [`level${i}`]: value };
    expect(JSON.stringify(redact(value))).not.toContain("deep-secret");
  });

  test("the project's camelCase secret fields (md5Key) are redacted too", () => {
    // DeviceConfig names the TCP-MD5 key `md5Key`; logging a device must not print it.
    const out = JSON.stringify(redact({ device: { name: "r1", md5Key: "md5-secret" } }));
    expect(out).not.toContain("md5-secret");
  });
});

describe("secrets through the logger", () => {
  test("a token in fields or in a child's fields never reaches the line", () => {
    const { logger, lines } = collect("debug");
    logger.child({ token: "child-secret" }).info("hello", {
      "client-metadata": { "x-ch-auth-api-token": ["call-secret"] },
      md5_key: "md5-secret",
      payload: Buffer.from([1, 2, 3]),
    });
    const line = lines[0] ?? "";
    for (const s of ["child-secret", "call-secret", "md5-secret"]) expect(line).not.toContain(s);
    expect(JSON.parse(line)).toMatchObject({
      token: REDACTED,
      "client-metadata": { "x-ch-auth-api-token": REDACTED },
      md5_key: REDACTED,
      payload: "<3 bytes>",
    });
  });

  // The logger once sat on consola, which throttles a line repeated more than 5 times within
  // 1 s and summarises the repeats in one line whose msg was the raw fields object.
  test("the same line logged many times in a row never leaks its fields' secrets", () => {
    const { logger, lines } = collect("info");
    for (let i = 0; i < 8; i++) logger.warn("refused", { token: "s3cret" });
    logger.info("next");
    for (const line of lines) expect(line).not.toContain("s3cret");
    for (const rec of parsed(lines)) expect(["refused", "next"]).toContain(String(rec.msg));
  });

  test("the same line logged many times in a row is written every time", () => {
    const { logger, lines } = collect("info");
    for (let i = 0; i < 8; i++) logger.warn("refused", { device_ip: "192.0.2.1" });
    logger.info("next");
    expect(parsed(lines).map((r) => r.msg)).toEqual([...Array(8).fill("refused"), "next"]);
  });
});

describe("human mode", () => {
  test("time, a three-letter level, the message, then key=value pairs sorted by name", () => {
    const { logger, lines } = collect("trace", true);
    logger.info("opened", {
      n: 3,
      device_ip: "192.0.2.1",
      list: ["a"],
      skipped: undefined,
      token: "nope",
      why: "two words",
    });
    logger.warn("plain");
    logger.debug("dbg");
    logger.error("bad");
    logger.trace("trc");
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d INF opened device_ip=192\.0\.2\.1 list=\["a"\] n=3 token=\[redacted\] why="two words"$/,
    );
    expect(lines.slice(1).map((l) => l.split(" ")[2])).toEqual(["WRN", "DBG", "ERR", "TRC"]);
    expect(lines.join("\n")).not.toContain("nope");
  });

  test("human mode filters levels the same way", () => {
    const { logger, lines } = collect("info", true);
    logger.debug("hidden");
    logger.trace("hidden too");
    logger.info("shown");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("INF shown");
  });
});
