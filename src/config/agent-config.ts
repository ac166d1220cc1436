import { canonicalIp } from "../core/address.ts";
import { ConfigError } from "../core/errors.ts";
import { isHostname, parseHostPort, parseListenList } from "./address.ts";
import {
  AGENT_DEFAULTS,
  AGENT_FLAGS,
  DEFAULT_AGENT_LISTEN,
  DEFAULT_REGION,
  exportUrlsFor,
  REGION_NAMES,
  REGIONS,
  type Region,
  regionOf,
} from "./agent-flags.ts";
import { deepFreeze } from "./deep-freeze.ts";
import { type Environment, parseFlags, type Setting, Settings } from "./flags.ts";
import { resolveHttpProxy } from "./http-proxy.ts";
import { type ConfigIo, systemIo } from "./io.ts";
import { parseLogConfig } from "./log-flags.ts";
import { withSecretsScrubbed } from "./redaction.ts";
import { parseResume } from "./resume-flags.ts";
import {
  invalid,
  parseHeaderValue,
  parseHttpUrl,
  parseInteger,
  parseInterfaceName,
  parseSecondsAsMs,
  quote,
} from "./scalars.ts";
import { parseLowerBackgroundThreads } from "./thread-lowering-flag.ts";
import type { AgentConfig, HostPort, ResumeSettings } from "./types.ts";

const COMMAND = "bgproxy agent";
const MAX_UINT32 = 4294967295;

/** Every value the token may have been given as, found without trusting the tokeniser. */
function tokenCandidates(argv: readonly string[], env: Environment): string[] {
  const found = [env.KENTIK_API_TOKEN ?? ""];
  argv.forEach((arg, i) => {
    const m = /^--?token(?:=(.*))?$/s.exec(arg);
    if (m) found.push(m[1] ?? argv[i + 1] ?? "");
  });
  return found;
}

/** iad1, fra1, or another region name (a DNS label), which maps to grpc.api.<name>.kentik.com. */
function parseRegion(setting: Setting | undefined): { name: string; region: Region } {
  if (!setting) return { name: DEFAULT_REGION, region: REGIONS[DEFAULT_REGION] };
  const name = setting.value.trim().toLowerCase();
  const region = regionOf(name);
  if (!region) throw invalid(setting, `${REGION_NAMES.join(", ")} or another region name`);
  return { name, region };
}

function credentials(s: Settings): { email: string; token: string } {
  const email = s.get("email");
  const token = s.get("token");
  if (!email && !token) {
    throw new ConfigError(
      "missing Kentik API email and token: pass --email and --token, or set KENTIK_API_EMAIL and KENTIK_API_TOKEN",
    );
  }
  if (!email) {
    throw new ConfigError("missing Kentik API email: pass --email or set KENTIK_API_EMAIL");
  }
  if (!token) {
    throw new ConfigError("missing Kentik API token: pass --token or set KENTIK_API_TOKEN");
  }
  for (const setting of [email, token]) {
    if (setting.value === "") throw new ConfigError(`${setting.label} is empty`);
  }
  return { email: parseHeaderValue(email, false), token: parseHeaderValue(token, true) };
}

function metricsAddr(setting: Setting | undefined): string {
  if (!setting) return AGENT_DEFAULTS.metricsAddr;
  const host = setting.value.trim().replace(/^\[(.*)\]$/, "$1");
  if (host.toLowerCase() === "localhost") return "localhost";
  const ip = canonicalIp(host);
  if (ip === undefined) throw invalid(setting, 'an IP address or "localhost"');
  return ip;
}

function tls(
  s: Settings,
  insecure: boolean,
  io: ConfigIo,
): Pick<AgentConfig, "caFile" | "tlsServerName"> {
  const caFile = s.get("ca-file");
  const serverName = s.get("tls-server-name");
  if (insecure && (caFile || serverName)) {
    throw new ConfigError(
      `${caFile ? "--ca-file" : "--tls-server-name"} cannot be used with --insecure (no TLS)`,
    );
  }
  if (caFile) {
    const problem = caFile.value === "" ? "empty path" : io.fileProblem(caFile.value);
    if (problem) throw new ConfigError(`--ca-file ${quote(caFile.value)}: ${problem}`);
  }
  if (serverName && !isHostname(serverName.value)) throw invalid(serverName, "a DNS name");
  return {
    ...(caFile ? { caFile: caFile.value } : {}),
    ...(serverName ? { tlsServerName: serverName.value.toLowerCase() } : {}),
  };
}

function heartbeat(s: Settings): AgentConfig["heartbeat"] {
  const interval = s.get("heartbeat-interval");
  const timeout = s.get("heartbeat-timeout");
  const intervalMs = interval
    ? parseSecondsAsMs(interval, 3600)
    : AGENT_DEFAULTS.heartbeatIntervalS * 1000;
  const timeoutMs = timeout
    ? parseSecondsAsMs(timeout, 3600)
    : AGENT_DEFAULTS.heartbeatTimeoutS * 1000;
  if (timeoutMs <= intervalMs) {
    throw new ConfigError(
      `--heartbeat-timeout (${timeoutMs / 1000}s) must be greater than --heartbeat-interval (${intervalMs / 1000}s)`,
    );
  }
  return { intervalMs, timeoutMs };
}

/** `--bridge-timeout`: seconds, 0 turning bridging off. */
function bridgeTimeout(s: Settings): number {
  const setting = s.get("bridge-timeout");
  if (!setting) return AGENT_DEFAULTS.bridgeTimeoutS * 1000;
  if (setting.value.trim() === "0") return 0;
  return parseSecondsAsMs(setting, 86_400);
}

function build(argv: readonly string[], env: Environment, io: ConfigIo): AgentConfig {
  const s = new Settings(parseFlags(argv, AGENT_FLAGS, COMMAND), env, AGENT_FLAGS);
  const { email, token } = credentials(s);
  const { name: regionName, region } = parseRegion(s.get("region"));
  const targetSetting = s.get("target");
  const target = targetSetting
    ? parseHostPort(targetSetting.value, targetSetting.label, {
        hosts: "any",
        portZero: false,
        example: "grpc.api.kentik.com:443",
      })
    : region.target;
  const insecure = s.bool("insecure", false);
  const listen = s.given("listen")
    ? parseListenList(s.all("listen"), "--listen", {
        hosts: "ip-or-localhost",
        portZero: true,
        example: "0.0.0.0:179",
        everyAddress: DEFAULT_AGENT_LISTEN.map((l) => l.host),
      })
    : DEFAULT_AGENT_LISTEN;
  const site = s.get("site-id");
  const multi = s.get("multi");
  const md5Interface = s.get("md5-listen-interface");
  const metricsPort = s.get("metrics-port");
  const logUrl = s.get("log-export-url");
  const metricsUrl = s.get("metrics-export-url");
  // Exports go where the sessions go: never to Kentik when --target names another gateway.
  const exportDefaults = targetSetting ? exportUrlsFor(target, insecure) : region;
  return {
    email,
    token,
    region: regionName,
    target,
    insecure,
    ...tls(s, insecure, io),
    listen,
    siteId: site ? parseInteger(site, 0, MAX_UINT32) : 0,
    multi: multi ? parseInteger(multi, 1, 65535) : AGENT_DEFAULTS.multi,
    md5: {
      enabled: s.bool("enable-md5-support", false),
      interface: md5Interface ? parseInterfaceName(md5Interface) : AGENT_DEFAULTS.md5Interface,
      // Tuning, environment only: the SYN capture's receive buffer (default 4 MiB).
      ...(env.BGPROXY_MD5_CAPTURE_BUFFER_BYTES
        ? {
            captureBufferBytes: parseInteger(
              {
                value: env.BGPROXY_MD5_CAPTURE_BUFFER_BYTES,
                label: "BGPROXY_MD5_CAPTURE_BUFFER_BYTES",
                fromEnv: true,
              },
              65536,
              1 << 30,
            ),
          }
        : {}),
    },
    metrics: {
      addr: metricsAddr(s.get("metrics-addr")),
      port: metricsPort ? parseInteger(metricsPort, 0, 65535) : AGENT_DEFAULTS.metricsPort,
    },
    export: {
      logsDisabled: s.bool("disable-log-export", false),
      metricsDisabled: s.bool("disable-metrics-export", false),
      logUrl: logUrl ? parseHttpUrl(logUrl) : exportDefaults.logUrl,
      metricsUrl: metricsUrl ? parseHttpUrl(metricsUrl) : exportDefaults.metricsUrl,
    },
    log: parseLogConfig(s),
    ...withProxy(target, insecure, env),
    heartbeat: heartbeat(s),
    bridgeTimeoutMs: bridgeTimeout(s),
    ...withResume(parseResume(s.get("resume-window"), s.get("replay-limit"), 0)),
    lowerBackgroundThreads: parseLowerBackgroundThreads(s),
  };
}

function withResume(resume: ResumeSettings | undefined): { resume?: ResumeSettings } {
  return resume ? { resume } : {};
}

function withProxy(target: HostPort, insecure: boolean, env: Environment) {
  const proxy = resolveHttpProxy(target, insecure, env);
  return proxy ? { proxy } : {};
}

/**
 * `bgproxy agent` flags (the arguments after "agent") and environment → the frozen
 * AgentConfig. Flags beat env; env beats defaults. Throws a one-line ConfigError naming
 * the flag or env var; the API token never appears in it. `io` is only used to check
 * that --ca-file is readable.
 */
export function parseAgentConfig(
  argv: readonly string[],
  env: Environment,
  io: ConfigIo = systemIo,
): AgentConfig {
  return withSecretsScrubbed(
    () => tokenCandidates(argv, env),
    () => deepFreeze(build(argv, env, io)),
  );
}
