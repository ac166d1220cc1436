import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { ConfigIo } from "../../src/config/io.ts";
import { parseStandaloneConfig } from "../../src/config/standalone-config.ts";
import type { StandaloneConfig } from "../../src/config/types.ts";
import { ConfigError } from "../../src/core/errors.ts";

const TOKEN = "0f0e0d0c0b0a09080706050403020100";

const FILE = `[collector]
asn = 65010
router_id = "10.255.0.1"

[[device]]
name = "r1"
id = 7
ip = "192.0.2.7"
md5_key = "k3y"
target = "collector"
`;

const io: ConfigIo = {
  fileProblem: () => undefined,
  readText: (path) => {
    if (path === "/ok/standalone.toml") return FILE;
    if (path === "/ok/bad.toml") return `${FILE}bogus = 1\n`;
    if (path === "/ok/leaky.toml")
      return FILE.replace('target = "collector"', `target = "${TOKEN}"`);
    throw new Error("no such file");
  },
  randomToken: () => TOKEN,
};

function parse(argv: string[]): StandaloneConfig {
  return parseStandaloneConfig(argv, {}, io);
}

function errorOf(argv: string[]): string {
  try {
    parse(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("standalone", () => {
  test("defaults: loopback everywhere, accept any router, export disabled", () => {
    const c = parse([]);
    expect(c.acceptAny).toBe(true);
    expect(c.agent).toMatchObject({
      email: "standalone@localhost",
      token: TOKEN,
      target: { host: "127.0.0.1", port: 9443 },
      insecure: true,
      listen: [{ host: "127.0.0.1", port: 1179 }],
      metrics: { addr: "127.0.0.1", port: 20920 },
      export: { logsDisabled: true, metricsDisabled: true },
      md5: { enabled: false },
    });
    expect(c.agent.proxy).toBeUndefined();
    expect(c.gateway).toMatchObject({
      listen: { host: "127.0.0.1", port: 9443 },
      httpListen: { host: "127.0.0.1", port: 20921 },
      insecure: true,
      acceptAny: true,
      collector: { asn: 64512, routerId: "127.0.0.1", holdTime: 90 },
      devices: [],
    });
    expect(Object.isFrozen(c.gateway.accounts)).toBe(true);
  });

  test("the gateway's only account is the SHA-256 of the agent's token", () => {
    const c = parse([]);
    const sha = createHash("sha256").update(TOKEN).digest("hex");
    expect(c.gateway.accounts).toEqual([
      { email: "standalone@localhost", tokenSha256: sha, companyId: 1 },
    ]);
  });

  test("the token is fresh each time with the real generator", () => {
    const a = parseStandaloneConfig([], {});
    const b = parseStandaloneConfig([], {});
    expect(a.agent.token).not.toBe(b.agent.token);
    expect(a.agent.token.length).toBeGreaterThanOrEqual(32);
  });

  test("--config brings the collector and devices, and turns acceptAny off", () => {
    const c = parse(["--config", "/ok/standalone.toml"]);
    expect(c.acceptAny).toBe(false);
    expect(c.gateway.acceptAny).toBe(false);
    expect(c.gateway.collector).toEqual({ asn: 65010, routerId: "10.255.0.1", holdTime: 90 });
    expect(c.gateway.devices.map((d) => d.ip)).toEqual(["192.0.2.7"]);
    expect(c.gateway.accounts).toHaveLength(1);
  });

  test("every flag", () => {
    const c = parse([
      "--listen=0.0.0.0:179,[::]:179",
      "--gateway-listen",
      "[::1]:0",
      "--http-listen=127.0.0.1:0",
      "--metrics-port=0",
      "--log-level=debug",
      "--human-logs",
    ]);
    expect(c.agent.listen).toEqual([
      { host: "0.0.0.0", port: 179 },
      { host: "::", port: 179 },
    ]);
    expect(c.agent.target).toEqual({ host: "::1", port: 0 });
    expect(c.gateway.listen).toEqual({ host: "::1", port: 0 });
    expect(c.gateway.httpListen).toEqual({ host: "127.0.0.1", port: 0 });
    expect(c.agent.metrics.port).toBe(0);
    expect(c.agent.log).toEqual({ level: "debug", human: true });
    expect(c.gateway.log).toEqual({ level: "debug", human: true });
  });

  const bad: [string[], string][] = [
    [["--gateway-listen=0.0.0.0:9443"], "--gateway-listen 0.0.0.0:9443 must be a loopback address"],
    [["--gateway-listen=9443"], '--gateway-listen "9443": missing port'],
    [["--listen=1.2.3.4"], '--listen "1.2.3.4": missing port'],
    [["--metrics-port=x"], "--metrics-port must be an integer"],
    [["--config=/missing.toml"], 'cannot read --config "/missing.toml": no such file'],
    [["--config=/ok/bad.toml"], "/ok/bad.toml:11: device[1].bogus is not a known key"],
    [["--token=x"], "unknown flag --token"],
  ];
  for (const [argv, want] of bad) {
    test(argv.join(" "), () => {
      expect(errorOf(argv)).toContain(want);
    });
  }

  test("the generated token never appears in an error", () => {
    const message = errorOf(["--config=/ok/leaky.toml"]);
    expect(message).toContain("device[1].target");
    expect(message).not.toContain(TOKEN);
  });
});
