import { ConfigError } from "../core/errors.ts";
import { parseHostPort } from "./address.ts";
import { EXPORT_PORT } from "./agent-flags.ts";
import { parseConfigSource, readConfigSource } from "./config-directory.ts";
import { deepFreeze } from "./deep-freeze.ts";
import {
  type Environment,
  type FlagSpec,
  HELP_FLAG,
  parseFlags,
  type Setting,
  Settings,
  VERSION_FLAG,
} from "./flags.ts";
import { parseGatewayFile } from "./gateway-file.ts";
import { type ConfigIo, systemIo } from "./io.ts";
import { HUMAN_LOGS_FLAG, LOG_LEVEL_FLAG, parseLogConfig } from "./log-flags.ts";
import {
  DEFAULT_RESUME_GRACE_S,
  parseResume,
  REPLAY_LIMIT_FLAG,
  RESUME_GRACE_FLAG,
} from "./resume-flags.ts";
import { parseSecondsAsMs, quote } from "./scalars.ts";
import {
  DISABLE_THREAD_LOWERING_FLAG,
  parseLowerBackgroundThreads,
} from "./thread-lowering-flag.ts";
import type { GatewayConfig, HostPort } from "./types.ts";

const COMMAND = "bgproxy gateway";

export const GATEWAY_DEFAULTS = {
  listen: { host: "0.0.0.0", port: 9443 },
  httpListen: { host: "127.0.0.1", port: 20921 },
  exportListen: { host: "0.0.0.0", port: EXPORT_PORT },
} as const satisfies Record<string, HostPort>;

export const GATEWAY_FLAGS: readonly FlagSpec[] = [
  {
    name: "config",
    kind: "string",
    valueName: "file|dir",
    help:
      "TOML file with [[account]], [collector] and [[device]] tables, or a directory whose " +
      "*.toml files (lexical order) are read as one (required)",
  },
  {
    name: "name",
    kind: "string",
    valueName: "name",
    env: "BGPROXY_GATEWAY_NAME",
    defaultText: "the host name",
    help: "This gateway's name: its backend-pin for a load balancer, and its label in /metrics",
  },
  {
    name: "listen",
    kind: "string",
    valueName: "host:port",
    defaultText: "0.0.0.0:9443",
    help: "gRPC address agents connect to (IPv6 in brackets)",
  },
  {
    name: "http-listen",
    kind: "string",
    valueName: "host:port",
    defaultText: "127.0.0.1:20921",
    help: "Status and metrics HTTP address",
  },
  {
    name: "export-listen",
    kind: "string",
    valueName: "host:port",
    defaultText: `0.0.0.0:${EXPORT_PORT}`,
    help: 'Where agents POST OTLP logs and metrics (TLS unless --insecure); "off" disables',
  },
  { name: "tls-cert", kind: "string", valueName: "file", help: "PEM certificate chain for gRPC" },
  { name: "tls-key", kind: "string", valueName: "file", help: "PEM private key for --tls-cert" },
  {
    name: "insecure",
    kind: "bool",
    help: "Serve gRPC without TLS (instead of --tls-cert/--tls-key)",
  },
  LOG_LEVEL_FLAG,
  HUMAN_LOGS_FLAG,
  {
    name: "drain-timeout",
    kind: "string",
    valueName: "seconds",
    defaultText: "10",
    help: "On SIGTERM, how long Data streams drained with RESTART may take to end",
  },
  RESUME_GRACE_FLAG,
  REPLAY_LIMIT_FLAG,
  DISABLE_THREAD_LOWERING_FLAG,
  VERSION_FLAG,
  HELP_FLAG,
];

/** Everything about the gateway that comes from flags rather than from its file. */
export interface GatewayFlags
  extends Pick<
    GatewayConfig,
    | "name"
    | "listen"
    | "httpListen"
    | "exportListen"
    | "insecure"
    | "tlsCert"
    | "tlsKey"
    | "log"
    | "drainTimeoutMs"
    | "resume"
    | "lowerBackgroundThreads"
  > {
  readonly configFile: string;
}

/** A listen address: an IP literal or localhost, port 0 allowed (any free port). */
export function parseListenAddress(setting: Setting | undefined, fallback: HostPort): HostPort {
  if (!setting) return fallback;
  return parseHostPort(setting.value, setting.label, {
    hosts: "ip-or-localhost",
    portZero: true,
    example: `${fallback.host}:${fallback.port}`,
  });
}

function readableFile(
  setting: Setting | undefined,
  io: ConfigIo,
  directoryToo = false,
): string | undefined {
  if (!setting) return undefined;
  if (directoryToo && io.listDirectory?.(setting.value) !== undefined) return setting.value;
  const problem = setting.value === "" ? "empty path" : io.fileProblem(setting.value);
  if (problem) throw new ConfigError(`${setting.label} ${quote(setting.value)}: ${problem}`);
  return setting.value;
}

/** A gateway name usable as a header value (backend-pin) and as an HAProxy server name. */
export const GATEWAY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** `--name` (or the host name). */
function gatewayName(setting: Setting | undefined, io: ConfigIo): string | undefined {
  const value = setting?.value ?? io.hostname?.();
  if (value === undefined) return undefined;
  if (!GATEWAY_NAME_PATTERN.test(value)) {
    const what = setting ? setting.label : "the host name (the default of --name)";
    throw new ConfigError(
      `${what} must be 1 to 253 letters, digits, ".", "_" or "-" (starting with a letter or ` +
        `digit), got ${quote(value)}`,
    );
  }
  return value;
}

/** `--export-listen`: an address, or "off" for none. */
function exportListen(setting: Setting | undefined): { exportListen?: HostPort } {
  if (setting && ["off", "none", "false"].includes(setting.value.trim().toLowerCase())) return {};
  return { exportListen: parseListenAddress(setting, GATEWAY_DEFAULTS.exportListen) };
}

/** `bgproxy gateway` flags (after "gateway") → GatewayFlags. `io` checks the TLS files. */
export function parseGatewayFlags(
  argv: readonly string[],
  env: Environment,
  io: ConfigIo = systemIo,
): GatewayFlags {
  const s = new Settings(parseFlags(argv, GATEWAY_FLAGS, COMMAND), env, GATEWAY_FLAGS);
  const config = s.get("config");
  if (!config || config.value === "") {
    throw new ConfigError("missing --config FILE (the gateway's TOML file)");
  }
  const configFile = readableFile(config, io, true) ?? config.value;
  const name = gatewayName(s.get("name"), io);
  const insecure = s.bool("insecure", false);
  const cert = s.get("tls-cert");
  const key = s.get("tls-key");
  if (insecure && (cert || key)) {
    throw new ConfigError(`${cert ? "--tls-cert" : "--tls-key"} cannot be used with --insecure`);
  }
  if (!insecure && (!cert || !key)) {
    throw new ConfigError(
      cert || key
        ? `${cert ? "--tls-key" : "--tls-cert"} is required with ${cert ? "--tls-cert" : "--tls-key"}`
        : "the gateway needs --tls-cert and --tls-key (or --insecure to serve without TLS)",
    );
  }
  const tlsCert = readableFile(cert, io);
  const tlsKey = readableFile(key, io);
  return {
    configFile,
    ...(name === undefined ? {} : { name }),
    listen: parseListenAddress(s.get("listen"), GATEWAY_DEFAULTS.listen),
    httpListen: parseListenAddress(s.get("http-listen"), GATEWAY_DEFAULTS.httpListen),
    ...exportListen(s.get("export-listen")),
    insecure,
    ...(tlsCert === undefined ? {} : { tlsCert }),
    ...(tlsKey === undefined ? {} : { tlsKey }),
    log: parseLogConfig(s),
    ...drainTimeout(s.get("drain-timeout")),
    ...withResume(s.get("resume-grace"), s.get("replay-limit")),
    lowerBackgroundThreads: parseLowerBackgroundThreads(s),
  };
}

/** `--resume-grace` (default 30 s, 0 = off) and `--replay-limit`. */
function withResume(grace: Setting | undefined, limit: Setting | undefined) {
  const resume = parseResume(grace, limit, DEFAULT_RESUME_GRACE_S);
  return resume ? { resume } : {};
}

/** `--drain-timeout`: seconds (0 = stop without waiting). */
function drainTimeout(setting: Setting | undefined): { drainTimeoutMs?: number } {
  if (!setting) return {};
  if (setting.value.trim() === "0") return { drainTimeoutMs: 0 };
  return { drainTimeoutMs: parseSecondsAsMs(setting, 3600) };
}

/**
 * The gateway file's text plus the flags → the frozen GatewayConfig. Pure: `fileName`
 * is only used in error messages ("file:line: key.path problem").
 */
export function parseGatewayConfig(
  text: string,
  fileName: string,
  flags: Omit<GatewayFlags, "configFile">,
): GatewayConfig {
  const file = parseGatewayFile(text, fileName);
  return deepFreeze({
    ...(flags.name === undefined ? {} : { name: flags.name }),
    listen: flags.listen,
    httpListen: flags.httpListen,
    ...(flags.exportListen === undefined ? {} : { exportListen: flags.exportListen }),
    insecure: flags.insecure,
    ...(flags.tlsCert === undefined ? {} : { tlsCert: flags.tlsCert }),
    ...(flags.tlsKey === undefined ? {} : { tlsKey: flags.tlsKey }),
    accounts: file.accounts,
    collector: file.collector,
    devices: file.devices,
    ...(file.mrt ? { mrt: file.mrt } : {}),
    ...(file.bmp.length > 0 ? { bmp: file.bmp } : {}),
    acceptAny: false,
    log: flags.log,
    ...(flags.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: flags.drainTimeoutMs }),
    ...(flags.resume === undefined ? {} : { resume: flags.resume }),
    lowerBackgroundThreads: flags.lowerBackgroundThreads,
  });
}

/** Reads a config file's text, turning a failure into "cannot read --config ...". */
export function readConfigFile(path: string, io: ConfigIo): string {
  try {
    return io.readText(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`cannot read --config ${quote(path)}: ${why}`);
  }
}

/** `bgproxy gateway` arguments and environment → GatewayConfig, reading the --config file. */
export function loadGatewayConfig(
  argv: readonly string[],
  env: Environment,
  io: ConfigIo = systemIo,
): GatewayConfig {
  const flags = parseGatewayFlags(argv, env, io);
  return parseConfigSource(readConfigSource(flags.configFile, io), (text, name) =>
    parseGatewayConfig(text, name, flags),
  );
}
