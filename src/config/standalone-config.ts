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
import { withSecretsScrubbed } from "./redaction.ts";
import { parseInteger, parseLogLevel } from "./scalars.ts";
import type { AgentConfig, GatewayConfig, HostPort, StandaloneConfig } from "./types.ts";

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
    name: "log-level",
    kind: "string",
    valueName: "level",
    defaultText: "info",
    help: "Log level: error, warn, info, debug or trace",
  },
  { name: "human-logs", kind: "bool", help: "Enable human-readable logs" },
  VERSION_FLAG,
  HELP_FLAG,
];

function build(argv: readonly string[], env: Environment, io: ConfigIo, token: string) {
  const s = new Settings(parseFlags(argv, STANDALONE_FLAGS, COMMAND), env, STANDALONE_FLAGS);
  const log = { level: parseLogLevel(s.get("log-level")), human: s.bool("human-logs", false) };
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
    export: { disabled: true, logUrl: REGIONS.iad1.logUrl, metricsUrl: REGIONS.iad1.metricsUrl },
    log,
    // Agent and gateway stop together: nothing to bridge to.
    bridgeTimeoutMs: 0,
    heartbeat: {
      intervalMs: AGENT_DEFAULTS.heartbeatIntervalS * 1000,
      timeoutMs: AGENT_DEFAULTS.heartbeatTimeoutS * 1000,
    },
  };
  const gateway: GatewayConfig = {
    listen: gatewayListen,
    httpListen: parseListenAddress(s.get("http-listen"), GATEWAY_DEFAULTS.httpListen),
    insecure: true,
    accounts: [{ email: STANDALONE_EMAIL, tokenSha256: sha256Hex(token), companyId: 1 }],
    collector: file?.collector ?? STANDALONE_DEFAULTS.collector,
    devices: file?.devices ?? [],
    ...(file?.mrt ? { mrt: file.mrt } : {}),
    ...(file && file.bmp.length > 0 ? { bmp: file.bmp } : {}),
    acceptAny: file === undefined,
    log,
  };
  return { agent, gateway, acceptAny: gateway.acceptAny };
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
