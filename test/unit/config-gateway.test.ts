import { describe, expect, test } from "bun:test";
import { type GatewayFlags, parseGatewayConfig } from "../../src/config/gateway-config.ts";
import { syntaxErrorLine } from "../../src/config/toml-lines.ts";
import { ConfigError } from "../../src/core/errors.ts";

const FILE = "/etc/bgproxy/gateway.toml";

/** The full example: every key, both device targets. Line numbers below refer to it. */
const EXAMPLE = `# bgproxy gateway configuration
[[account]]
email = "ops@example.net"
token_sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
company_id = 42

[[account]]
email = "lab@example.net"
token_sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

[collector]
asn = 64512
router_id = "192.0.2.1"
hold_time = 180

[[device]]
name = "edge-1"
id = 1001
ip = "10.0.0.1"
md5_key = "s3cret-md5"
target = "collector"

[[device]]
name = "edge-2"
id = 1002
site = 7
ip = "2001:DB8::2"
target = "forward"
forward = "[2001:db8::100]:179"
forward_source = "2001:db8::1"
`;

const FLAGS: Omit<GatewayFlags, "configFile"> = {
  listen: { host: "0.0.0.0", port: 9443 },
  httpListen: { host: "127.0.0.1", port: 20921 },
  insecure: false,
  tlsCert: "/etc/bgproxy/cert.pem",
  tlsKey: "/etc/bgproxy/key.pem",
  log: { level: "info", human: false },
  lowerBackgroundThreads: true,
};

/** EXAMPLE with its line `n` (1-based) replaced by `text` (which may span lines, or be ""). */
function withLine(n: number, text: string): string {
  const lines = EXAMPLE.split("\n");
  lines.splice(n - 1, 1, ...(text === "" ? [] : [text]));
  return lines.join("\n");
}

function errorOf(text: string): string {
  try {
    parseGatewayConfig(text, FILE, FLAGS);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("a valid file", () => {
  test("the flags' lowerBackgroundThreads reaches the config (--disable-thread-lowering)", () => {
    const off = { ...FLAGS, lowerBackgroundThreads: false };
    expect(parseGatewayConfig(EXAMPLE, FILE, off).lowerBackgroundThreads).toBe(false);
  });

  test("parses to the expected frozen config", () => {
    const c = parseGatewayConfig(EXAMPLE, FILE, FLAGS);
    expect(c).toEqual({
      ...FLAGS,
      accounts: [
        {
          email: "ops@example.net",
          tokenSha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          companyId: 42,
        },
        {
          email: "lab@example.net",
          tokenSha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
          companyId: 1,
        },
      ],
      collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 180 },
      devices: [
        {
          name: "edge-1",
          id: 1001,
          site: 0,
          ip: "10.0.0.1",
          md5Key: "s3cret-md5",
          target: { kind: "collector" },
        },
        {
          name: "edge-2",
          id: 1002,
          site: 7,
          ip: "2001:db8::2",
          target: {
            kind: "forward",
            forward: { host: "2001:db8::100", port: 179 },
            source: "2001:db8::1",
          },
        },
      ],
      acceptAny: false,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.devices)).toBe(true);
    expect(Object.isFrozen(c.devices[1]?.target)).toBe(true);
    expect(Object.isFrozen(c.accounts[0])).toBe(true);
  });

  test("optional keys default: hold_time 90, no devices", () => {
    const text = withLine(14, "").split("[[device]]")[0] ?? "";
    const c = parseGatewayConfig(text, FILE, FLAGS);
    expect(c.collector.holdTime).toBe(90);
    expect(c.devices).toEqual([]);
  });

  test("hold_time 0, a forward host name, an IPv4-mapped device address", () => {
    const text = withLine(14, "hold_time = 0")
      .replace('"[2001:db8::100]:179"', '"bird.example.net:1179"')
      .replace('forward_source = "2001:db8::1"', "")
      .replace('"10.0.0.1"', '"::ffff:10.0.0.1"');
    const c = parseGatewayConfig(text, FILE, FLAGS);
    expect(c.collector.holdTime).toBe(0);
    expect(c.devices[0]?.ip).toBe("10.0.0.1");
    expect(c.devices[1]?.target).toEqual({
      kind: "forward",
      forward: { host: "bird.example.net", port: 1179 },
    });
  });
});

test("observe = false turns a forwarded device's observer off", () => {
  const c = parseGatewayConfig(withLine(30, "observe = false"), FILE, FLAGS);
  expect(c.devices[1]?.target).toEqual({
    kind: "forward",
    forward: { host: "2001:db8::100", port: 179 },
    observe: false,
  });
  const on = parseGatewayConfig(withLine(30, "observe = true"), FILE, FLAGS);
  expect(on.devices[1]?.target).toEqual({
    kind: "forward",
    forward: { host: "2001:db8::100", port: 179 },
  });
});

describe("errors name the key path and line", () => {
  const cases: [string, string, string][] = [
    [
      "bad target",
      withLine(28, 'target = "foo"'),
      `${FILE}:28: device[2].target must be "collector" or "forward", got "foo"`,
    ],
    [
      "unknown top-level table",
      withLine(11, "[colector]"),
      `${FILE}:11: colector is not a known key (expected one of: account, collector, device, mrt, bmp)`,
    ],
    [
      "unknown collector key",
      withLine(14, "holdtime = 90"),
      `${FILE}:14: collector.holdtime is not a known key (expected one of: asn, router_id, hold_time)`,
    ],
    [
      "unknown device key",
      withLine(19, 'ip = "10.0.0.1"\ncolour = "red"'),
      `${FILE}:20: device[1].colour is not a known key`,
    ],
    [
      "unknown account key",
      withLine(5, "company = 42"),
      `${FILE}:5: account[1].company is not a known key`,
    ],
    [
      "wrong type",
      withLine(5, 'company_id = "42"'),
      `${FILE}:5: account[1].company_id must be an integer, got "42"`,
    ],
    [
      "float for int",
      withLine(12, "asn = 64512.5"),
      `${FILE}:12: collector.asn must be an integer, got 64512.5`,
    ],
    [
      "string for int",
      withLine(25, 'id = "1002"'),
      `${FILE}:25: device[2].id must be an integer, got "1002"`,
    ],
    [
      "int for string",
      withLine(17, "name = 1"),
      `${FILE}:17: device[1].name must be a string, got 1`,
    ],
    [
      "date for int",
      withLine(14, "hold_time = 1979-05-27T07:32:00Z"),
      `${FILE}:14: collector.hold_time must be an integer, got a date/time`,
    ],
    [
      "asn 0",
      withLine(12, "asn = 0"),
      `${FILE}:12: collector.asn must be an integer from 1 to 4294967295, got 0`,
    ],
    [
      "asn too big",
      withLine(12, "asn = 4294967296"),
      `${FILE}:12: collector.asn must be an integer from 1 to 4294967295, got 4294967296`,
    ],
    [
      "router_id 0.0.0.0",
      withLine(13, 'router_id = "0.0.0.0"'),
      `${FILE}:13: collector.router_id must be an IPv4 address other than 0.0.0.0, got "0.0.0.0"`,
    ],
    [
      "router_id IPv6",
      withLine(13, 'router_id = "::1"'),
      `${FILE}:13: collector.router_id must be an IPv4 address`,
    ],
    [
      "hold_time 2",
      withLine(14, "hold_time = 2"),
      `${FILE}:14: collector.hold_time must be 0 or from 3 to 65535, got 2`,
    ],
    [
      "hold_time too big",
      withLine(14, "hold_time = 65536"),
      `${FILE}:14: collector.hold_time must be an integer from 0 to 65535, got 65536`,
    ],
    ["missing device name", withLine(17, ""), `${FILE}:16: device[1].name is required`],
    ["missing device ip", withLine(27, ""), `${FILE}:23: device[2].ip is required`],
    ["missing target", withLine(21, ""), `${FILE}:16: device[1].target is required`],
    ["missing collector asn", withLine(12, ""), `${FILE}:11: collector.asn is required`],
    ["missing token_sha256", withLine(9, ""), `${FILE}:7: account[2].token_sha256 is required`],
    [
      "missing collector",
      EXAMPLE.replace(/\[collector\][^[]*/, ""),
      `${FILE}: collector is required: add a [collector] table`,
    ],
    ["no account", EXAMPLE.replace(/\[\[account\]\][^[]*/g, ""), `${FILE}: account is required`],
    [
      "bad token_sha256",
      withLine(9, 'token_sha256 = "abc"'),
      `${FILE}:9: account[2].token_sha256 must be 64 hex characters`,
    ],
    ["empty email", withLine(3, 'email = ""'), `${FILE}:3: account[1].email must not be empty`],
    [
      "bad device ip",
      withLine(19, 'ip = "10.0.0.256"'),
      `${FILE}:19: device[1].ip must be an IPv4 or IPv6 address (no brackets), got "10.0.0.256"`,
    ],
    [
      "bracketed device ip",
      withLine(27, 'ip = "[2001:db8::2]"'),
      `${FILE}:27: device[2].ip must be an IPv4 or IPv6 address`,
    ],
    [
      "id too big",
      withLine(18, "id = 4294967296"),
      `${FILE}:18: device[1].id must be an integer from 0 to 4294967295, got 4294967296`,
    ],
    [
      "forward missing",
      withLine(29, ""),
      `${FILE}:23: device[2].forward is required with target = "forward"`,
    ],
    [
      "forward unbracketed IPv6",
      withLine(29, 'forward = "2001:db8::100:179"'),
      `${FILE}:29: device[2].forward "2001:db8::100:179": an IPv6 address needs brackets`,
    ],
    [
      "forward without port",
      withLine(29, 'forward = "192.0.2.9"'),
      `${FILE}:29: device[2].forward "192.0.2.9": missing port`,
    ],
    [
      "forward with collector",
      withLine(21, 'target = "collector"\nforward = "192.0.2.9:179"'),
      `${FILE}:22: device[1].forward is only allowed with target = "forward"`,
    ],
    [
      "bad forward_source",
      withLine(30, 'forward_source = "eth0"'),
      `${FILE}:30: device[2].forward_source must be an IP address, got "eth0"`,
    ],
    [
      "observe on a collector device",
      withLine(21, 'target = "collector"\nobserve = false'),
      `${FILE}:22: device[1].observe is only allowed with target = "forward"`,
    ],
    [
      "observe not a boolean",
      withLine(30, 'observe = "no"'),
      `${FILE}:30: device[2].observe must be true or false, got "no"`,
    ],
    [
      "md5_key too long",
      withLine(20, `md5_key = "${"k".repeat(81)}"`),
      `${FILE}:20: device[1].md5_key must be 1 to 80 bytes long, got 81`,
    ],
    [
      "md5_key empty",
      withLine(20, 'md5_key = ""'),
      `${FILE}:20: device[1].md5_key must not be empty`,
    ],
    [
      "duplicate site+ip",
      withLine(27, 'ip = "10.0.0.1"').replace("site = 7", "site = 0"),
      `${FILE}:27: device[2].ip 10.0.0.1 in site 0 is already device[1]`,
    ],
    [
      "duplicate ip, differently written",
      withLine(19, 'ip = "2001:db8:0::2"').replace("site = 7", ""),
      `${FILE}:27: device[2].ip 2001:db8::2 in site 0 is already device[1]`,
    ],
    [
      "duplicate id",
      withLine(25, "id = 1001"),
      `${FILE}:25: device[2].id 1001 is already device[1]'s id`,
    ],
    [
      "duplicate name",
      withLine(24, 'name = "edge-1"'),
      `${FILE}:24: device[2].name "edge-1" is already device[1]'s name`,
    ],
    [
      "duplicate account token",
      withLine(
        9,
        'token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
      ),
      `${FILE}:9: account[2].token_sha256 is the same as account[1]'s`,
    ],
    [
      "account as a table",
      `[account]\nemail = "a@b"\n${EXAMPLE.replace(/\[\[account\]\][^[]*/g, "")}`,
      `${FILE}:1: account must be an array of tables ([[account]])`,
    ],
    [
      "collector as an array",
      withLine(11, "[[collector]]"),
      `${FILE}:11: collector must be a table ([collector])`,
    ],
    [
      "inline device that is not a table",
      `device = [1]\n${EXAMPLE.split("[[device]]")[0]}`,
      `${FILE}:1: device[1] must be a table, got 1`,
    ],
  ];
  for (const [name, text, want] of cases) {
    test(name, () => {
      expect(errorOf(text)).toStartWith(want);
    });
  }

  test("an md5_key never appears in an error, even used as another value", () => {
    const text = withLine(21, 'target = "s3cret-md5"');
    const message = errorOf(text);
    expect(message).toContain("device[1].target");
    expect(message).not.toContain("s3cret-md5");
  });

  test("an unquoted md5_key is not echoed in the TOML syntax error", () => {
    const message = errorOf(withLine(20, "md5_key = SEKRITbare"));
    expect(message).toStartWith(`${FILE}:20: TOML syntax error`);
    expect(message).not.toContain("SEKRITbare");
  });

  test("a syntax error on another line that quotes an md5_key does not echo it", () => {
    const message = errorOf(withLine(21, "target = s3cret-md5"));
    expect(message).toStartWith(`${FILE}:21: TOML syntax error: [redacted]`);
    expect(message).not.toContain("s3cret-md5");
  });

  test("an md5_key used as a key name is not echoed", () => {
    const message = errorOf(withLine(21, 's3cret-md5 = "collector"'));
    expect(message).toStartWith(`${FILE}:21: device[1].[redacted] is not a known key`);
  });

  test("an md5_key written with escapes is not echoed in its plain form either", () => {
    const text = withLine(20, 'md5_key = "\\u0041BCsecret"').replace(
      'target = "collector"\n\n',
      'target = "ABCsecret"\n\n',
    );
    const message = errorOf(text);
    expect(message).toContain("device[1].target");
    expect(message).not.toContain("ABCsecret");
  });

  test("an md5_key that occurs in ordinary words garbles nothing", () => {
    for (const key of ["e", "red", "act", "device"]) {
      const text = withLine(20, `md5_key = "${key}"`).replace('"collector"\n\n', '"foo"\n\n');
      expect(errorOf(text)).toBe(
        `${FILE}:21: device[1].target must be "collector" or "forward", got "foo"`,
      );
    }
  });

  test("a too-long md5_key is not echoed", () => {
    const key = "x".repeat(30) + "y".repeat(60);
    expect(errorOf(withLine(20, `md5_key = "${key}"`))).not.toContain("xxxxxxxxxx");
  });
});

describe("TOML syntax errors", () => {
  const cases: [string, string, string][] = [
    [
      "duplicate key",
      withLine(12, "asn = 64512\nasn = 1"),
      `${FILE}:13: TOML syntax error: Cannot redefine key 'asn'`,
    ],
    [
      "unclosed header",
      withLine(11, "[collector"),
      `${FILE}:11: TOML syntax error: Expected ']' to close a table header`,
    ],
    [
      "missing value",
      withLine(25, "id ="),
      `${FILE}:25: TOML syntax error: Missing value after '='`,
    ],
    [
      "unterminated string",
      withLine(3, 'email = "ops@example.net'),
      `${FILE}:3: TOML syntax error: Unterminated string`,
    ],
    [
      "table redefined",
      withLine(23, "[device]"),
      `${FILE}:23: TOML syntax error: Cannot redefine array of tables 'device' as a table`,
    ],
    ["garbage after a value", withLine(26, "site = 7 8"), `${FILE}:26: TOML syntax error:`],
  ];
  for (const [name, text, want] of cases) {
    test(name, () => {
      expect(errorOf(text)).toStartWith(want);
    });
  }

  test("the error line inside a multi-line array points at its start", () => {
    const text = "a = 1\nb = [\n  1,\n  2 3,\n]\n[t]\nc = 1\n";
    expect(syntaxErrorLine(text, parses)).toBe(2);
  });
});

function parses(text: string): boolean {
  try {
    Bun.TOML.parse(text);
    return true;
  } catch {
    return false;
  }
}
