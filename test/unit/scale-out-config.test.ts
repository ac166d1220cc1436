/**
 * Scale-out pieces that are pure: the gateway's name (`--name`, default host name) and its
 * `backend-pin`, the `--config DIR` reader (lexical order, duplicates across files are
 * errors, errors blamed on the right file and line), and the pin outcome of a Data stream.
 */
import { describe, expect, test } from "bun:test";
import { joinConfigFiles, parseConfigSource } from "../../src/config/config-directory.ts";
import { loadGatewayConfig, parseGatewayFlags } from "../../src/config/gateway-config.ts";
import type { ConfigIo } from "../../src/config/io.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { controlAnswer } from "../../src/gateway/control-service.ts";
import { pinOutcome } from "../../src/gateway/data-service.ts";
import { gatewayMetricFamilies } from "../../src/metrics/gateway-metrics.ts";
import { renderPrometheusText } from "../../src/metrics/prometheus-text.ts";
import { ControlAction } from "../../src/proto/messages.ts";

const ACCOUNT = `# who may connect
[[account]]
email = "ops@example.net"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[collector]
asn = 64512
router_id = "192.0.2.1"
`;

const device = (n: number, ip = `10.0.0.${n}`) =>
  `[[device]]\nname = "edge-${n}"\nid = ${n}\nip = "${ip}"\ntarget = "collector"\n`;

/** A fake file system: paths to texts; directories are the paths ending in "/". */
function fakeIo(files: Record<string, string>, host = "gw-host-1"): ConfigIo {
  return {
    fileProblem: (p) => (p in files ? undefined : "no such file"),
    readText: (p) => {
      const text = files[p];
      if (text === undefined) throw new Error("no such file");
      return text;
    },
    randomToken: () => "unused",
    listDirectory: (p) => {
      const dir = p.endsWith("/") ? p : `${p}/`;
      const names = Object.keys(files)
        .filter((f) => f.startsWith(dir))
        .map((f) => f.slice(dir.length));
      return names.length > 0 ? names : undefined;
    },
    hostname: () => host,
  };
}

function configError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("gateway name", () => {
  const io = fakeIo({ "/etc/g.toml": ACCOUNT });

  test("defaults to the host name, --name and BGPROXY_GATEWAY_NAME override it", () => {
    expect(parseGatewayFlags(["--config", "/etc/g.toml", "--insecure"], {}, io).name).toBe(
      "gw-host-1",
    );
    const env = { BGPROXY_GATEWAY_NAME: "gwB" };
    expect(parseGatewayFlags(["--config", "/etc/g.toml", "--insecure"], env, io).name).toBe("gwB");
    const flags = ["--config", "/etc/g.toml", "--insecure", "--name", "gwA"];
    expect(parseGatewayFlags(flags, env, io).name).toBe("gwA");
    expect(loadGatewayConfig(flags, {}, io).name).toBe("gwA");
  });

  test("a name HAProxy or an HTTP header cannot carry is refused", () => {
    const bad = ["--config", "/etc/g.toml", "--insecure", "--name", "gw A"];
    expect(configError(() => parseGatewayFlags(bad, {}, io))).toContain("--name must be 1 to 253");
    const badHost = fakeIo({ "/etc/g.toml": ACCOUNT }, "-weird host");
    expect(
      configError(() => parseGatewayFlags(["--config", "/etc/g.toml", "--insecure"], {}, badHost)),
    ).toContain("the host name (the default of --name)");
  });

  test("a proceed answer carries backend-pin; blocks and keepalives do not", () => {
    const request = {
      proto: "BGP",
      deviceIp: "10.0.0.1",
      devicePort: 40000,
      proxyIp: "10.0.0.2",
      proxyPort: 179,
      action: ControlAction.UNSPECIFIED,
    };
    const proceed = controlAnswer(request, { id: 1, name: "edge-1" }, 7, "gwA");
    expect(proceed.metadata).toEqual([{ key: "backend-pin", val: ["gwA"] }]);
    expect(controlAnswer(request, undefined, 7, "gwA").metadata).toEqual([]);
    const ka = { ...request, action: ControlAction.KEEPALIVE };
    expect(controlAnswer(ka, undefined, 0, "gwA").metadata).toEqual([]);
    expect(controlAnswer(request, { id: 1, name: "edge-1" }, 7).metadata).toEqual([]);
  });

  test("a Data stream's pin is this gateway, another, or none", () => {
    expect(pinOutcome("gwA", "gwA")).toBe("self");
    expect(pinOutcome("gwB", "gwA")).toBe("other");
    expect(pinOutcome(undefined, "gwA")).toBe("none");
    expect(pinOutcome("", "gwA")).toBe("none");
  });

  test("/metrics labels the session gauges and the stream counter with the gateway", () => {
    const text = renderPrometheusText(
      gatewayMetricFamilies({
        version: "1.2.3",
        gateway: "gwA",
        streamsByPin: new Map([
          ["self", 5],
          ["other", 1],
        ]),
        devices: [
          {
            name: "edge-1",
            ip: "10.0.0.1",
            state: "established",
            sessions: 1,
            sessions_total: 2,
            updates: 3,
            prefixes: { ipv4: 4, ipv6: 0 },
          },
        ],
        agentsConnected: 1,
        exportRequests: new Map(),
        exportItems: new Map(),
        agentSeries: 0,
        process: {
          cpuSecondsTotal: 0,
          residentMemoryBytes: 0,
          heapUsedBytes: 0,
          startTimeSeconds: 0,
        },
      }),
    );
    expect(text).toContain('bgproxy_gateway_info{version="1.2.3",gateway="gwA"} 1\n');
    expect(text).toContain('bgproxy_gateway_sessions_active{gateway="gwA"} 1\n');
    expect(text).toContain(
      'bgproxy_gateway_device_sessions{device="edge-1",device_ip="10.0.0.1",gateway="gwA"} 1\n',
    );
    expect(text).toContain('bgproxy_gateway_data_streams_total{gateway="gwA",pin="self"} 5\n');
    expect(text).toContain('bgproxy_gateway_data_streams_total{gateway="gwA",pin="other"} 1\n');
  });
});

describe("--config DIR", () => {
  const argv = (path: string) => ["--config", path, "--insecure", "--name", "gwA"];

  test("every *.toml file, in lexical order, is one configuration", () => {
    const io = fakeIo({
      "/etc/gw.d/20-devices.toml": device(2) + device(3),
      "/etc/gw.d/10-base.toml": ACCOUNT,
      "/etc/gw.d/30-more.toml": device(4),
      "/etc/gw.d/README": "not toml",
      "/etc/gw.d/99-old.toml.bak": device(2),
    });
    const c = loadGatewayConfig(argv("/etc/gw.d"), {}, io);
    expect(c.devices.map((d) => d.name)).toEqual(["edge-2", "edge-3", "edge-4"]);
    expect(c.accounts).toHaveLength(1);
    expect(loadGatewayConfig(argv("/etc/gw.d/"), {}, io).devices).toHaveLength(3);
  });

  test("a device defined in two files is an error at the second file's line", () => {
    const io = fakeIo({
      "/d/a.toml": ACCOUNT,
      "/d/b.toml": device(2),
      "/d/c.toml": `# comment\n\n${device(5, "10.0.0.2")}`,
    });
    expect(configError(() => loadGatewayConfig(argv("/d"), {}, io))).toBe(
      "/d/c.toml:6: device[2].ip 10.0.0.2 in site 0 is already device[1]",
    );
  });

  test("[collector] in two files is an error naming both", () => {
    const io = fakeIo({ "/d/a.toml": ACCOUNT, "/d/b.toml": ACCOUNT.slice(ACCOUNT.indexOf("[c")) });
    expect(configError(() => loadGatewayConfig(argv("/d"), {}, io))).toBe(
      "/d/b.toml: [collector] is already defined in /d/a.toml",
    );
  });

  test("syntax and value errors point at their own file and line", () => {
    const syntax = fakeIo({ "/d/a.toml": ACCOUNT, "/d/b.toml": `${device(2)}oops = = 1\n` });
    expect(configError(() => loadGatewayConfig(argv("/d"), {}, syntax))).toMatch(
      /^\/d\/b\.toml:6: TOML syntax error/,
    );
    const value = fakeIo({ "/d/a.toml": ACCOUNT, "/d/b.toml": device(2, "not-an-ip") });
    expect(configError(() => loadGatewayConfig(argv("/d"), {}, value))).toMatch(
      /^\/d\/b\.toml:4: device\[1\]\.ip must be an IPv4 or IPv6 address/,
    );
  });

  test("a file that does not start with a table, or an empty directory, is refused", () => {
    const loose = fakeIo({ "/d/a.toml": ACCOUNT, "/d/b.toml": '\nname = "x"\n' });
    expect(configError(() => loadGatewayConfig(argv("/d"), {}, loose))).toBe(
      "/d/b.toml:2: a file in a config directory must start with a table header " +
        "([[account]], [collector] or [[device]])",
    );
    expect(configError(() => joinConfigFiles("/empty", []))).toContain("has no *.toml files");
  });

  test("a single file's errors are left as they are", () => {
    const source = joinConfigFiles("/d", [{ name: "/d/a.toml", text: ACCOUNT }]);
    expect(parseConfigSource(source, (text) => text.length)).toBe(ACCOUNT.length);
  });
});
