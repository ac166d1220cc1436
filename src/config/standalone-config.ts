import { ConfigError } from "../core/errors.ts";
import { sha256Hex } from "../core/sha256.ts";
import { formatHostPort, isLoopbackHost, parseListenList } from "./address.ts";
import { AGENT_DEFAULTS, REGIONS } from "./agent-flags.ts";
import { deepFreeze } from "./deep-freeze.ts";
import {
  type Environment,
  type FlagSpec,
  HELP_FLAG,
  parseFlags,
  Settings,
  VERSION_FLAG,
} from "./flags.ts";
import { GATEWAY_DEFAULTS, parseListenAddress, readConfigFile } from "./gateway-config.ts";
import { type GatewayFile, parseGatewayFile } from "./gateway-file.ts";
import { type ConfigIo, systemIo } from "./io.ts";
import { HUMAN_LOGS_FLAG, LOG_LEVEL_FLAG, parseLogConfig } from "./log-flags.ts";
import { withSecretsScrubbed } from "./redaction.ts";
import { parseInteger } from "./scalars.ts";
import {
  DISABLE_THREAD_LOWERING_FLAG,
  parseLowerBackgroundThreads,
} from "./thread-lowering-flag.ts";
import type {
  AgentConfig,
  DeviceConfig,
  GatewayConfig,
  HostPort,
  StandaloneConfig,
} from "./types.ts";

const COMMAND = "bgproxy standalone";
export const STANDALONE_EMAIL = "standalone@localhost";

export const STANDALONE_DEFAULTS = {
  listen: { host: "127.0.0.1", port: 1179 },
  gatewayListen: { host: "127.0.0.1", port: 9443 },
  /** Without --config: a private ASN and a loopback router ID. */
  collector: { asn: 64512, routerId: "127.0.0.1", holdTime: 90 },
} as const;

export const STANDALONE_FLAGS: readonly FlagSpec[] = [
  {
    name: "config",
    kind: "string",
    valueName: "file",
    help: "Gateway TOML file for [collector] and [[device]] (its accounts are ignored); without it every router is accepted",
  },
  {
    name: "listen",
    kind: "list",
    valueName: "host:port",
    defaultText: "127.0.0.1:1179",
    help: "Router-facing listen address(es); repeat or comma-separate, IPv6 in brackets",
  },
  {
    name: "gateway-listen",
    kind: "string",
    valueName: "host:port",
    defaultText: "127.0.0.1:9443",
    help: "Loopback address of the in-process gateway (0 = any free port)",
  },
  {
    name: "http-listen",
    kind: "string",
    valueName: "host:port",
    defaultText: "127.0.0.1:20921",
    help: "Gateway status and metrics HTTP address",
  },
  {
    name: "metrics-port",
    kind: "string",
    valueName: "port",
    defaultText: String(AGENT_DEFAULTS.metricsPort),
    help: "Agent metrics endpoint port on 127.0.0.1 (0 = any free port)",
  },
  {
    name: "demo",
    kind: "bool",
    defaultText: "false",
    help: "Start a built-in demo router that announces a small generated table (npm start turns it on)",
  },
  LOG_LEVEL_FLAG,
  HUMAN_LOGS_FLAG,
  DISABLE_THREAD_LOWERING_FLAG,
  VERSION_FLAG,
  HELP_FLAG,
];

/**
 * Where the demo router connects (the first router listener) and from which address (the
 * demo device's): another loopback address than 127.0.0.1, so a real router peering from
 * 127.0.0.1 (a BIRD on the same machine) is a device of its own.
 */
export function demoEndpoints(listen: HostPort): NonNullable<StandaloneConfig["demo"]> {
  const host = listen.host.toLowerCase();
  if (host === "0.0.0.0" || host === "localhost") {
    return { connectHost: "127.0.0.1", source: "127.0.0.2" };
  }
  if (host === "::" || host === "::1") return { connectHost: "::1", source: "::1" };
  if (host.startsWith("127.")) {
    return { connectHost: host, source: host === "127.0.0.2" ? "127.0.0.3" : "127.0.0.2" };
  }
  return { connectHost: host, source: host };
}

/** The demo router's device, added to a --config device list that does not have it. */
function withDemoDevice(devices: readonly DeviceConfig[], ip: string): readonly DeviceConfig[] {
  if (devices.some((d) => d.ip === ip)) return devices;
  const id = devices.reduce((max, d) => Math.max(max, d.id), 0) + 1;
  return [...devices, { name: "demo-router", id, site: 0, ip, target: { kind: "collector" } }];
}

function build(argv: readonly string[], env: Environment, io: ConfigIo, token: string) {
  const s = new Settings(parseFlags(argv, STANDALONE_FLAGS, COMMAND), env, STANDALONE_FLAGS);
  const log = parseLogConfig(s);
  const lowerBackgroundThreads = parseLowerBackgroundThreads(s);
  const gatewayListen = parseListenAddress(
    s.get("gateway-listen"),
    STANDALONE_DEFAULTS.gatewayListen,
  );
  if (!isLoopbackHost(gatewayListen.host)) {
    throw new ConfigError(
      `--gateway-listen ${formatHostPort(gatewayListen)} must be a loopback address (127.0.0.1, [::1] or localhost): the agent reaches it without TLS`,
    );
  }
  const listen: readonly HostPort[] = s.given("listen")
    ? parseListenList(s.all("listen"), "--listen", {
        hosts: "ip-or-localhost",
        portZero: true,
        example: "127.0.0.1:1179",
      })
    : [STANDALONE_DEFAULTS.listen];
  const metricsPort = s.get("metrics-port");
  const firstListener = listen[0];
  const demo =
    s.bool("demo", false) && firstListener !== undefined ? demoEndpoints(firstListener) : undefined;
  const configFile = s.get("config");
  if (configFile?.value === "") throw new ConfigError("--config is empty");
  const file: GatewayFile | undefined = configFile
    ? parseGatewayFile(readConfigFile(configFile.value, io), configFile.value, {
        requireAccount: false,
      })
    : undefined;

  const agent: AgentConfig = {
    email: STANDALONE_EMAIL,
    token,
    region: "iad1",
    target: gatewayListen,
    insecure: true,
    listen,
    siteId: 0,
    multi: AGENT_DEFAULTS.multi,
    md5: { enabled: false, interface: AGENT_DEFAULTS.md5Interface },
    metrics: {
      addr: AGENT_DEFAULTS.metricsAddr,
      port: metricsPort ? parseInteger(metricsPort, 0, 65535) : AGENT_DEFAULTS.metricsPort,
    },
    export: {
      logsDisabled: true,
      metricsDisabled: true,
      logUrl: REGIONS.iad1.logUrl,
      metricsUrl: REGIONS.iad1.metricsUrl,
    },
    log,
    // Agent and gateway stop together: nothing to bridge to.
    bridgeTimeoutMs: 0,
    heartbeat: {
      intervalMs: AGENT_DEFAULTS.heartbeatIntervalS * 1000,
      timeoutMs: AGENT_DEFAULTS.heartbeatTimeoutS * 1000,
    },
    lowerBackgroundThreads,
  };
  const gateway: GatewayConfig = {
    listen: gatewayListen,
    httpListen: parseListenAddress(s.get("http-listen"), GATEWAY_DEFAULTS.httpListen),
    insecure: true,
    accounts: [{ email: STANDALONE_EMAIL, tokenSha256: sha256Hex(token), companyId: 1 }],
    collector: file?.collector ?? STANDALONE_DEFAULTS.collector,
    devices: demo && file ? withDemoDevice(file.devices, demo.source) : (file?.devices ?? []),
    ...(file?.mrt ? { mrt: file.mrt } : {}),
    ...(file && file.bmp.length > 0 ? { bmp: file.bmp } : {}),
    acceptAny: file === undefined,
    log,
    lowerBackgroundThreads,
  };
  return { agent, gateway, acceptAny: gateway.acceptAny, ...(demo ? { demo } : {}) };
}

/**
 * `bgproxy standalone` flags (after "standalone") → the frozen StandaloneConfig: an agent
 * dialling the in-process gateway on loopback without TLS, authenticated by a random
 * token made here (the gateway's only account is its SHA-256). With --gateway-listen port
 * 0, agent.target.port is 0 too: the starter must point the agent at the bound port.
 */
export function parseStandaloneConfig(
  argv: readonly string[],
  env: Environment,
  io: ConfigIo = systemIo,
): StandaloneConfig {
  const token = io.randomToken();
  return withSecretsScrubbed(
    () => [token],
    () => deepFreeze(build(argv, env, io, token)),
  );
}
