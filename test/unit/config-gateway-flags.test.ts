import { describe, expect, test } from "bun:test";
import { loadGatewayConfig, parseGatewayFlags } from "../../src/config/gateway-config.ts";
import type { ConfigIo } from "../../src/config/io.ts";
import { ConfigError } from "../../src/core/errors.ts";

const TEXT = `[[account]]
email = "ops@example.net"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[collector]
asn = 64512
router_id = "192.0.2.1"

[[device]]
name = "edge-1"
id = 1
ip = "10.0.0.1"
target = "collector"
`;

describe("gateway flags", () => {
  const io: ConfigIo = {
    fileProblem: (p) => (p.startsWith("/ok/") ? undefined : "no such file"),
    readText: (p) => {
      if (p === "/ok/gateway.toml") return TEXT;
      throw new Error("no such file");
    },
    randomToken: () => "unused",
  };
  const flagError = (argv: string[]) => {
    try {
      loadGatewayConfig(argv, {}, io);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error("expected a ConfigError");
  };

  test("defaults and the file", () => {
    const c = loadGatewayConfig(["--config", "/ok/gateway.toml", "--insecure"], {}, io);
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 9443 });
    expect(c.httpListen).toEqual({ host: "127.0.0.1", port: 20921 });
    expect(c.exportListen).toEqual({ host: "0.0.0.0", port: 4318 });
    expect(c.insecure).toBe(true);
    expect(c.devices).toHaveLength(1);
  });

  test("every flag", () => {
    const f = parseGatewayFlags(
      [
        "--config=/ok/gateway.toml",
        "--listen",
        "[::]:0",
        "--http-listen=localhost:8080",
        "--export-listen=127.0.0.1:14318",
        "--tls-cert",
        "/ok/cert.pem",
        "--tls-key=/ok/key.pem",
        "--log-level=trace",
        "--human-logs",
        "--resume-grace=12",
        "--replay-limit",
        "1024",
      ],
      {},
      io,
    );
    expect(f).toEqual({
      resume: { windowMs: 12_000, limitBytes: 1024 * 1024 },
      configFile: "/ok/gateway.toml",
      listen: { host: "::", port: 0 },
      httpListen: { host: "localhost", port: 8080 },
      exportListen: { host: "127.0.0.1", port: 14318 },
      insecure: false,
      tlsCert: "/ok/cert.pem",
      tlsKey: "/ok/key.pem",
      log: { level: "trace", human: true },
      lowerBackgroundThreads: true,
    });
  });

  test("resume: held 30 s with 4 MiB by default, off with --resume-grace 0", () => {
    const base = ["--config=/ok/gateway.toml", "--insecure"];
    expect(parseGatewayFlags(base, {}, io).resume).toEqual({
      windowMs: 30_000,
      limitBytes: 4096 * 1024,
    });
    expect(parseGatewayFlags([...base, "--resume-grace=0"], {}, io).resume).toBeUndefined();
    expect(() => parseGatewayFlags([...base, "--replay-limit=1"], {}, io)).toThrow(
      "--replay-limit",
    );
  });

  const bad: [string[], string][] = [
    [["--insecure"], "missing --config FILE"],
    [["--config=/ok/gateway.toml"], "the gateway needs --tls-cert and --tls-key (or --insecure"],
    [["--config=/ok/gateway.toml", "--tls-cert=/ok/c"], "--tls-key is required with --tls-cert"],
    [["--config=/ok/gateway.toml", "--tls-key=/ok/k"], "--tls-cert is required with --tls-key"],
    [
      ["--config=/ok/g", "--tls-cert=/ok/c", "--tls-key=/ok/k", "--insecure"],
      "cannot be used with --insecure",
    ],
    [["--config=/ok/g", "--tls-cert=/no/c", "--tls-key=/ok/k"], '--tls-cert "/no/c": no such file'],
    [["--config=/nonexistent"], '--config "/nonexistent": no such file'],
    [["--config=/ok/vanished.toml", "--insecure"], 'cannot read --config "/ok/vanished.toml"'],
    [["--config=/ok/g", "--insecure", "--listen=9443"], '--listen "9443": missing port'],
    [["--config=/ok/g", "--insecure", "--http-listen=[::1]:70000"], "--http-listen"],
    [
      ["--config=/ok/g", "--insecure", "--export-listen=4318"],
      '--export-listen "4318": missing port',
    ],
    [["--config=/ok/g", "--insecure", "--log-level=loud"], "--log-level must be one of"],
    [["--config=/ok/g", "--insecure", "--token=x"], "unknown flag --token"],
  ];
  for (const [argv, want] of bad) {
    test(argv.join(" "), () => {
      expect(flagError(argv)).toContain(want);
    });
  }
});
