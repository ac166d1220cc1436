import { describe, expect, test } from "bun:test";
import { parseAgentConfig } from "../../src/config/agent-config.ts";
import { AGENT_FLAGS } from "../../src/config/agent-flags.ts";
import type { ConfigIo } from "../../src/config/io.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { ConfigError } from "../../src/core/errors.ts";

const CREDS = { KENTIK_API_EMAIL: "ops@example.net", KENTIK_API_TOKEN: "tok-env-0001" };

/** Files that exist for --ca-file checks; nothing is read from disk. */
const io: ConfigIo = {
  fileProblem: (path) => (path === "/etc/ssl/ca.pem" ? undefined : "no such file"),
  readText: () => {
    throw new Error("no such file");
  },
  randomToken: () => "unused",
};

function parse(argv: string[], env: Record<string, string | undefined> = CREDS): AgentConfig {
  return parseAgentConfig(argv, env, io);
}

function errorOf(argv: string[], env: Record<string, string | undefined> = CREDS): string {
  try {
    parse(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(argv)}`);
}

describe("agent defaults", () => {
  test("match the reference", () => {
    const c = parse([]);
    expect(c).toEqual({
      email: "ops@example.net",
      token: "tok-env-0001",
      region: "iad1",
      target: { host: "grpc.api.kentik.com", port: 443 },
      insecure: false,
      listen: [
        { host: "0.0.0.0", port: 179 },
        { host: "::", port: 179 },
      ],
      siteId: 0,
      multi: 10,
      md5: { enabled: false, interface: "any" },
      metrics: { addr: "127.0.0.1", port: 20920 },
      export: {
        logsDisabled: false,
        metricsDisabled: false,
        logUrl: "https://grpc.api.kentik.com/agents/v202204/logs",
        metricsUrl: "https://grpc.api.kentik.com/agents/v202204/metrics",
      },
      log: { level: "info", human: false },
      heartbeat: { intervalMs: 10_000, timeoutMs: 30_000 },
      bridgeTimeoutMs: 300_000,
      lowerBackgroundThreads: true,
    });
  });

  test("the config is deeply frozen", () => {
    const c = parse(["--listen", "127.0.0.1:179"]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(Object.isFrozen(c.listen[0])).toBe(true);
    expect(Object.isFrozen(c.md5)).toBe(true);
    expect(Object.isFrozen(c.export)).toBe(true);
  });

  test("the help table has every reference flag", () => {
    const names = AGENT_FLAGS.map((f) => f.name);
    for (const name of [
      "disable-log-export",
      "email",
      "enable-md5-support",
      "human-logs",
      "insecure",
      "listen",
      "log-export-url",
      "log-level",
      "md5-listen-interface",
      "metrics-addr",
      "metrics-export-url",
      "metrics-port",
      "multi",
      "region",
      "site-id",
      "target",
      "token",
      "version",
    ]) {
      expect(names).toContain(name);
    }
  });
});

describe("every flag, as `--x v` and `--x=v`", () => {
  const cases: [string, string, (c: AgentConfig) => unknown, unknown][] = [
    ["email", "me@example.org", (c) => c.email, "me@example.org"],
    ["token", "flag-token", (c) => c.token, "flag-token"],
    ["enable-md5-support", "true", (c) => c.md5.enabled, true],
    ["listen", "192.0.2.10:1179", (c) => c.listen, [{ host: "192.0.2.10", port: 1179 }]],
    ["log-export-url", "https://logs.example/x", (c) => c.export.logUrl, "https://logs.example/x"],
    ["log-level", "debug", (c) => c.log.level, "debug"],
    ["md5-listen-interface", "eth1", (c) => c.md5.interface, "eth1"],
    ["metrics-addr", "0.0.0.0", (c) => c.metrics.addr, "0.0.0.0"],
    [
      "metrics-export-url",
      "http://m.example:8080/",
      (c) => c.export.metricsUrl,
      "http://m.example:8080/",
    ],
    ["metrics-port", "9100", (c) => c.metrics.port, 9100],
    ["multi", "3", (c) => c.multi, 3],
    ["region", "fra1", (c) => c.region, "fra1"],
    ["site-id", "42", (c) => c.siteId, 42],
    ["target", "gw.example.net:9443", (c) => c.target, { host: "gw.example.net", port: 9443 }],
    ["ca-file", "/etc/ssl/ca.pem", (c) => c.caFile, "/etc/ssl/ca.pem"],
    ["tls-server-name", "gw.example.net", (c) => c.tlsServerName, "gw.example.net"],
    ["heartbeat-interval", "5", (c) => c.heartbeat.intervalMs, 5000],
    ["heartbeat-timeout", "12.5", (c) => c.heartbeat.timeoutMs, 12_500],
    ["bridge-timeout", "60", (c) => c.bridgeTimeoutMs, 60_000],
    ["bridge-timeout", "0", (c) => c.bridgeTimeoutMs, 0],
    ["resume-window", "5", (c) => c.resume, { windowMs: 5000, limitBytes: 4096 * 1024 }],
    ["resume-window", "0", (c) => c.resume, undefined],
    ["replay-limit", "512", (c) => c.resume, undefined],
  ];
  for (const [flag, value, get, want] of cases) {
    test(`--${flag}`, () => {
      expect(get(parse([`--${flag}`, value]))).toEqual(want);
      expect(get(parse([`--${flag}=${value}`]))).toEqual(want);
      expect(get(parse([`-${flag}`, value]))).toEqual(want);
    });
  }

  test("--resume-window with --replay-limit", () => {
    expect(parse(["--resume-window=2.5", "--replay-limit=512"]).resume).toEqual({
      windowMs: 2500,
      limitBytes: 512 * 1024,
    });
  });

  const bools: [string, (c: AgentConfig) => boolean][] = [
    ["disable-log-export", (c) => c.export.logsDisabled],
    ["disable-metrics-export", (c) => c.export.metricsDisabled],
    ["enable-md5-support", (c) => c.md5.enabled],
    ["human-logs", (c) => c.log.human],
    ["insecure", (c) => c.insecure],
  ];
  for (const [flag, get] of bools) {
    test(`--${flag} as a bool`, () => {
      expect(get(parse([]))).toBe(false);
      expect(get(parse([`--${flag}`]))).toBe(true);
      expect(get(parse([`--${flag}=true`]))).toBe(true);
      expect(get(parse([`--${flag}=false`]))).toBe(false);
      expect(get(parse([`--${flag}`, "false"]))).toBe(false);
      expect(get(parse([`--${flag}=FALSE`]))).toBe(false);
      expect(errorOf([`--${flag}=maybe`])).toContain(`--${flag} must be`);
    });
  }

  test("the last of a repeated scalar flag wins", () => {
    expect(parse(["--multi", "2", "--multi=7"]).multi).toBe(7);
  });
});

describe("environment", () => {
  test("KENTIK_* variables fill in for absent flags", () => {
    const c = parse([], {
      ...CREDS,
      KENTIK_REGION: "fra1",
      KENTIK_SITE: "12",
      KENTIK_ENABLE_MD5: "yes",
    });
    expect([c.email, c.token, c.region, c.siteId, c.md5.enabled]).toEqual([
      "ops@example.net",
      "tok-env-0001",
      "fra1",
      12,
      true,
    ]);
  });

  test("flags beat env", () => {
    const env = { ...CREDS, KENTIK_REGION: "fra1", KENTIK_SITE: "12", KENTIK_ENABLE_MD5: "1" };
    const c = parse(
      [
        "--email=flag@example.org",
        "--token=flag-token",
        "--region=iad1",
        "--site-id=3",
        "--enable-md5-support=false",
      ],
      env,
    );
    expect([c.email, c.token, c.region, c.siteId, c.md5.enabled]).toEqual([
      "flag@example.org",
      "flag-token",
      "iad1",
      3,
      false,
    ]);
  });

  test("an empty env var counts as unset", () => {
    expect(parse([], { ...CREDS, KENTIK_REGION: "", KENTIK_SITE: "" }).region).toBe("iad1");
  });

  test("KENTIK_ENABLE_MD5 takes bool words and numbers, any case", () => {
    const md5 = (v: string) => parse([], { ...CREDS, KENTIK_ENABLE_MD5: v }).md5.enabled;
    for (const v of ["true", "TRUE", "1", "yes", "Yes", "0.5", "2"]) expect(md5(v)).toBe(true);
    for (const v of ["false", "False", "0", "no", "NO", "0.0"]) expect(md5(v)).toBe(false);
    expect(parse(["--enable-md5-support=1.5"]).md5.enabled).toBe(true);
    expect(parse(["--enable-md5-support", "0"]).md5.enabled).toBe(false);
    expect(() => md5("sometimes")).toThrow("KENTIK_ENABLE_MD5 (--enable-md5-support) must be");
  });

  test("a bad env value names the env var and its flag", () => {
    expect(errorOf([], { ...CREDS, KENTIK_SITE: "x" })).toBe(
      'KENTIK_SITE (--site-id) must be an integer from 0 to 4294967295, got "x"',
    );
  });
});

describe("regions and targets", () => {
  test("fra1 switches the target and both export URLs to the EU host", () => {
    const c = parse(["--region", "fra1"]);
    expect(c.target).toEqual({ host: "grpc.api.kentik.eu", port: 443 });
    expect(c.export.logUrl).toBe("https://grpc.api.kentik.eu/agents/v202204/logs");
    expect(c.export.metricsUrl).toBe("https://grpc.api.kentik.eu/agents/v202204/metrics");
  });

  test("iad1 explicitly is the default", () => {
    expect(parse(["--region=iad1"]).target).toEqual({ host: "grpc.api.kentik.com", port: 443 });
  });

  test("--target overrides the region; exports go to that gateway, never to Kentik", () => {
    const c = parse(["--region=fra1", "--target=gw.example.net:8443"]);
    expect(c.target).toEqual({ host: "gw.example.net", port: 8443 });
    expect(c.export.logUrl).toBe("https://gw.example.net:4318/v1/logs");
    expect(c.export.metricsUrl).toBe("https://gw.example.net:4318/v1/metrics");
    const plain = parse(["--target=[2001:db8::1]:9443", "--insecure"]);
    expect(plain.export.logUrl).toBe("http://[2001:db8::1]:4318/v1/logs");
  });

  test("a --target on a Kentik host keeps Kentik's export URLs on that host", () => {
    const c = parse(["--target=grpc.api.our1.kentik.com:443"]);
    expect(c.export.logUrl).toBe("https://grpc.api.our1.kentik.com/agents/v202204/logs");
    expect(c.export.metricsUrl).toBe("https://grpc.api.our1.kentik.com/agents/v202204/metrics");
  });

  test("explicit export URLs win over the --target default", () => {
    const c = parse([
      "--target=gw.example.net:8443",
      "--log-export-url=https://otel.example/v1/logs",
    ]);
    expect(c.export.logUrl).toBe("https://otel.example/v1/logs");
    expect(c.export.metricsUrl).toBe("https://gw.example.net:4318/v1/metrics");
  });

  test("an IPv6 target goes in brackets; TLS to an IP takes --tls-server-name or none", () => {
    expect(parse(["--target=[2001:db8::1]:9443", "--insecure"]).target).toEqual({
      host: "2001:db8::1",
      port: 9443,
    });
    // Without --tls-server-name the certificate is checked against the IP (its IP SANs).
    expect(parse(["--target=192.0.2.1:443"]).tlsServerName).toBeUndefined();
    const c = parse(["--target=192.0.2.1:443", "--tls-server-name=gw.example.net"]);
    expect(c.tlsServerName).toBe("gw.example.net");
  });

  test("--ca-file must exist and is incompatible with --insecure", () => {
    expect(errorOf(["--ca-file=/nope.pem"])).toBe('--ca-file "/nope.pem": no such file');
    expect(errorOf(["--ca-file=/etc/ssl/ca.pem", "--insecure"])).toContain("--insecure");
  });
});

describe("what the reference accepts", () => {
  test("a region other than iad1 or fra1 maps to grpc.api.<region>.kentik.com:443", () => {
    const c = parse(["--region", "our1"]);
    expect(c.region).toBe("our1");
    expect(c.target).toEqual({ host: "grpc.api.our1.kentik.com", port: 443 });
    expect(c.export.logUrl).toBe("https://grpc.api.our1.kentik.com/agents/v202204/logs");
    expect(c.export.metricsUrl).toBe("https://grpc.api.our1.kentik.com/agents/v202204/metrics");
    expect(parse([], { ...CREDS, KENTIK_REGION: "US2" }).target.host).toBe(
      "grpc.api.us2.kentik.com",
    );
  });

  test("log levels warning, fatal and panic (zerolog's words)", () => {
    expect(parse(["--log-level=warning"]).log.level).toBe("warn");
    expect(parse(["--log-level=fatal"]).log.level).toBe("error");
    expect(parse(["--log-level=PANIC"]).log.level).toBe("error");
  });

  test("--disable-log-export leaves metrics export on; metrics have their own flag and env", () => {
    expect(parse(["--disable-log-export"]).export).toMatchObject({
      logsDisabled: true,
      metricsDisabled: false,
    });
    expect(parse(["--disable-metrics-export"]).export).toMatchObject({
      logsDisabled: false,
      metricsDisabled: true,
    });
    expect(
      parse([], { ...CREDS, BGPROXY_DISABLE_METRICS_EXPORT: "true" }).export.metricsDisabled,
    ).toBe(true);
  });
});

describe("listen addresses", () => {
  test("repeated and comma-separated, IPv6 in brackets, localhost, port 0", () => {
    const c = parse(["--listen", "127.0.0.1:179,[::1]:1179", "--listen=localhost:0"]);
    expect(c.listen).toEqual([
      { host: "127.0.0.1", port: 179 },
      { host: "::1", port: 1179 },
      { host: "localhost", port: 0 },
    ]);
  });

  test('":179" means every address, IPv4 and IPv6, as Go\'s net.Listen takes it', () => {
    expect(parse(["--listen", ":179"]).listen).toEqual([
      { host: "0.0.0.0", port: 179 },
      { host: "::", port: 179 },
    ]);
    expect(parse(["--listen=:1179,127.0.0.2:179"]).listen).toEqual([
      { host: "0.0.0.0", port: 1179 },
      { host: "::", port: 1179 },
      { host: "127.0.0.2", port: 179 },
    ]);
  });

  const bad: [string, string][] = [
    ["1.2.3.4", "missing port"],
    ["1.2.3.4:99999", "out of range"],
    ["[::1:179", 'missing "]"'],
    ["foo:bar", 'port "bar" is not a number'],
    ["", "is empty"],
    ["::1:179", "needs brackets"],
    ["example.com:179", "is not an IP address"],
    ["1.2.3.4:179,", "empty item"],
    ["1.2.3.4:179,1.2.3.4:179", "twice"],
    ["[1.2.3.4]:179", "is not an IPv6 address"],
    [":179,0.0.0.0:179", "twice"],
    [":", "missing port"],
  ];
  for (const [value, why] of bad) {
    test(`--listen ${JSON.stringify(value)} is refused`, () => {
      const message = errorOf(["--listen", value]);
      expect(message).toStartWith("--listen");
      expect(message).toContain(why);
    });
  }
});

describe("bad values name their flag", () => {
  const bad: [string[], string][] = [
    [["--region", "us_1"], '--region must be iad1, fra1 or another region name, got "us_1"'],
    [["--multi", "0"], '--multi must be an integer from 1 to 65535, got "0"'],
    [["--multi=1.5"], "--multi must be an integer"],
    [["--site-id=-1"], "--site-id must be an integer"],
    [["--metrics-port=65536"], "--metrics-port must be an integer from 0 to 65535"],
    [
      ["--log-level=verbose"],
      '--log-level must be one of error, warn, info, debug, trace, warning, fatal, panic, got "verbose"',
    ],
    [["--log-export-url=ftp://x"], "--log-export-url must be an http:// or https:// URL"],
    [["--metrics-export-url=nope"], "--metrics-export-url must be an http:// or https:// URL"],
    [["--metrics-addr=example.com"], "--metrics-addr must be an IP address"],
    [["--md5-listen-interface=a/b"], "--md5-listen-interface must be a network interface name"],
    [["--target=gw.example.net"], '--target "gw.example.net": missing port'],
    [["--target=gw.example.net:0"], '--target "gw.example.net:0": port 0 is out of range 1-65535'],
    [["--target=https://gw.example.net:443"], "without a scheme"],
    [["--heartbeat-interval=0"], "--heartbeat-interval must be a number of seconds"],
    [
      ["--heartbeat-interval=40"],
      "--heartbeat-timeout (30s) must be greater than --heartbeat-interval (40s)",
    ],
    [["--tls-server-name=bad name"], "--tls-server-name must be a DNS name"],
    [["--email=a b"], "--email must be printable ASCII"],
    [["--bogus"], "unknown flag --bogus"],
    [["--multi"], "--multi needs a value"],
    [["--email", "--insecure"], "--email needs a value"],
    [["stray"], 'unexpected argument "stray"'],
  ];
  for (const [argv, want] of bad) {
    test(argv.join(" "), () => {
      expect(errorOf(argv)).toContain(want);
    });
  }
});

describe("credentials", () => {
  test("missing both names both flags and both env vars", () => {
    const message = errorOf([], {});
    for (const name of ["--email", "--token", "KENTIK_API_EMAIL", "KENTIK_API_TOKEN"]) {
      expect(message).toContain(name);
    }
  });

  test("missing one names its flag and env var", () => {
    expect(errorOf([], { KENTIK_API_TOKEN: "t0k" })).toBe(
      "missing Kentik API email: pass --email or set KENTIK_API_EMAIL",
    );
    expect(errorOf(["--email=a@b.c"], {})).toBe(
      "missing Kentik API token: pass --token or set KENTIK_API_TOKEN",
    );
  });

  test("numeric-looking values stay exact strings", () => {
    const c = parse(["--token", "000123", "--email", "1"], {});
    expect(c.token).toBe("000123");
    expect(c.email).toBe("1");
    expect(parse(["--token=1e3", "--email=2"], {}).token).toBe("1e3");
    expect(parse(["--token", "-0x10"]).token).toBe("-0x10");
  });
});

describe("the token never appears in an error", () => {
  const token = "10.9.8.7";
  const cases: string[][] = [
    ["--listen", token],
    ["--listen", `127.0.0.1:179,${token}`],
    ["--listen", `${token}:99999`],
    ["--region", token],
    ["--multi", token],
    ["--target", token],
    ["--metrics-export-url", token],
    [token],
    [`--unknown=${token}`],
    [`--${token}`],
    ["--listen", `${token}:179,${token}:179`],
    ["--insecure", "--email", "a b", token],
  ];
  for (const argv of cases) {
    test(`token given as a flag, also in ${argv.join(" ")}`, () => {
      const message = errorOf(["--token", token, ...argv], { KENTIK_API_EMAIL: "a@b.c" });
      expect(message).not.toContain(token);
    });
    test(`token given in env, also in ${argv.join(" ")}`, () => {
      const message = errorOf(argv, { KENTIK_API_EMAIL: "a@b.c", KENTIK_API_TOKEN: token });
      expect(message).not.toContain(token);
    });
  }

  test("a token with quotes is not leaked in its JSON-escaped form either", () => {
    const quoted = 'ab"cd\\ef';
    const message = errorOf(["--token", quoted, "--region", quoted], { KENTIK_API_EMAIL: "x@y" });
    expect(message).not.toContain(quoted);
    expect(message).not.toContain(JSON.stringify(quoted).slice(1, -1));
  });

  test("a token that occurs in ordinary words garbles nothing", () => {
    for (const token of ["e", "red", "act", "multi"]) {
      const message = errorOf(["--token", token, "--multi", "x"], { KENTIK_API_EMAIL: "a@b.c" });
      expect(message).toBe('--multi must be an integer from 1 to 65535, got "x"');
    }
  });

  test("a bad token is refused without echoing it", () => {
    const message = errorOf(["--token", "has space"], { KENTIK_API_EMAIL: "x@y" });
    expect(message).toContain("--token");
    expect(message).not.toContain("has space");
  });
});

describe("HTTP proxy", () => {
  test("comes from the environment for the target", () => {
    const c = parse([], { ...CREDS, HTTPS_PROXY: "http://u:p%40ss@proxy.corp:3128" });
    expect(c.proxy).toEqual({ host: "proxy.corp", port: 3128, credentials: "u:p@ss" });
  });

  test("is skipped when NO_PROXY matches the target", () => {
    const env = { ...CREDS, HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: ".kentik.com" };
    expect(parse([], env).proxy).toBeUndefined();
    expect(parse(["--region=fra1"], env).proxy).toEqual({ host: "proxy.corp", port: 3128 });
  });

  test("a bad proxy URL names the env var", () => {
    expect(errorOf([], { ...CREDS, HTTPS_PROXY: "https://proxy.corp:3128" })).toContain(
      "HTTPS_PROXY",
    );
  });
});
