import { type FlagSpec, HELP_FLAG, VERSION_FLAG } from "./flags.ts";
import { HUMAN_LOGS_FLAG, LOG_LEVEL_FLAG } from "./log-flags.ts";
import { REPLAY_LIMIT_FLAG, RESUME_WINDOW_FLAG } from "./resume-flags.ts";
import { DISABLE_THREAD_LOWERING_FLAG } from "./thread-lowering-flag.ts";
import type { HostPort } from "./types.ts";

/** Kentik regions: where the gateway and the log/metrics export endpoints are. */
export interface Region {
  readonly target: HostPort;
  readonly logUrl: string;
  readonly metricsUrl: string;
}

function region(host: string): Region {
  return {
    target: { host, port: 443 },
    logUrl: `https://${host}/agents/v202204/logs`,
    metricsUrl: `https://${host}/agents/v202204/metrics`,
  };
}

/** OTLP/HTTP's registered port: where a bgproxy gateway receives agents' logs and metrics. */
export const EXPORT_PORT = 4318;

/** A host of Kentik's own service: its export URLs keep the reference's form. */
export function isKentikHost(host: string): boolean {
  return /(^|\.)kentik\.(com|eu)$/i.test(host);
}

/**
 * Default export URLs for a `--target`: Kentik's form for a Kentik host, else the bgproxy
 * gateway on that host (OTLP paths on EXPORT_PORT; plain http with --insecure).
 */
export function exportUrlsFor(
  target: HostPort,
  insecure: boolean,
): Pick<Region, "logUrl" | "metricsUrl"> {
  if (isKentikHost(target.host)) return region(target.host);
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  const base = `${insecure ? "http" : "https"}://${host}:${EXPORT_PORT}`;
  return { logUrl: `${base}/v1/logs`, metricsUrl: `${base}/v1/metrics` };
}

export const REGIONS = {
  iad1: region("grpc.api.kentik.com"),
  fra1: region("grpc.api.kentik.eu"),
} as const satisfies Record<string, Region>;

export type RegionName = keyof typeof REGIONS;

const REGION_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A region by name: iad1 and fra1 as above; any other name that is a DNS label maps to
 * `grpc.api.<name>.kentik.com` (the reference's rule: its status example shows
 * grpc.api.our1.kentik.com:443). Undefined for a name that cannot be a host label.
 */
export function regionOf(name: string): Region | undefined {
  const known = REGION_NAMES.find((r) => r === name);
  if (known) return REGIONS[known];
  return REGION_LABEL.test(name) ? region(`grpc.api.${name}.kentik.com`) : undefined;
}
export const REGION_NAMES = Object.keys(REGIONS) as RegionName[];
export const DEFAULT_REGION: RegionName = "iad1";

export const DEFAULT_AGENT_LISTEN: readonly HostPort[] = [
  { host: "0.0.0.0", port: 179 },
  { host: "::", port: 179 },
];

export const AGENT_DEFAULTS = {
  multi: 10,
  metricsAddr: "127.0.0.1",
  metricsPort: 20920,
  md5Interface: "any",
  heartbeatIntervalS: 10,
  heartbeatTimeoutS: 30,
  bridgeTimeoutS: 300,
} as const;

/**
 * `bgproxy agent` flags: the reference's, with the same names, types, defaults and
 * environment variables (alphabetical, as its --help lists them), then ours.
 */
export const AGENT_FLAGS: readonly FlagSpec[] = [
  {
    name: "disable-log-export",
    kind: "bool",
    help: "Disable log export to Kentik (logs only: see --disable-metrics-export)",
  },
  {
    name: "email",
    kind: "string",
    valueName: "string",
    env: "KENTIK_API_EMAIL",
    help: "Kentik API email",
  },
  {
    name: "enable-md5-support",
    kind: "bool",
    numeric: true,
    env: "KENTIK_ENABLE_MD5",
    defaultText: "false",
    help: "Enable MD5 password support (requires root); true/false/yes/no/1/0 or a number, non-zero = true",
  },
  HUMAN_LOGS_FLAG,
  { name: "insecure", kind: "bool", help: "Connect over insecure HTTP to the target" },
  {
    name: "listen",
    kind: "list",
    valueName: "host:port",
    defaultText: "0.0.0.0:179,[::]:179",
    help: "Listen address(es) to bind to; repeat or comma-separate, IPv6 in brackets; :179 = every address",
  },
  {
    name: "log-export-url",
    kind: "string",
    valueName: "url",
    defaultText: REGIONS.iad1.logUrl,
    help: `URL to export logs to (the .eu host with --region fra1; with --target, that host's port ${EXPORT_PORT} /v1/logs)`,
  },
  LOG_LEVEL_FLAG,
  {
    name: "md5-listen-interface",
    kind: "string",
    valueName: "name",
    defaultText: AGENT_DEFAULTS.md5Interface,
    help: "Network interface to capture connection attempts on",
  },
  {
    name: "metrics-addr",
    kind: "string",
    valueName: "ip",
    defaultText: AGENT_DEFAULTS.metricsAddr,
    help: "Metrics endpoint bind address",
  },
  {
    name: "metrics-export-url",
    kind: "string",
    valueName: "url",
    defaultText: REGIONS.iad1.metricsUrl,
    help: `URL to export metrics to (the .eu host with --region fra1; with --target, that host's port ${EXPORT_PORT} /v1/metrics)`,
  },
  {
    name: "metrics-port",
    kind: "string",
    valueName: "port",
    defaultText: String(AGENT_DEFAULTS.metricsPort),
    help: "Metrics endpoint port (0 = any free port)",
  },
  {
    name: "multi",
    kind: "string",
    valueName: "int",
    defaultText: String(AGENT_DEFAULTS.multi),
    help: "Multiplex N client connections over 1 gRPC connection",
  },
  {
    name: "region",
    kind: "string",
    valueName: "string",
    env: "KENTIK_REGION",
    defaultText: DEFAULT_REGION,
    help: "Kentik environment/region: iad1 (US), fra1 (EU); another name N means grpc.api.N.kentik.com",
  },
  {
    name: "site-id",
    kind: "string",
    valueName: "int",
    env: "KENTIK_SITE",
    defaultText: "0",
    help: "Kentik site ID to look devices up in (default means any site)",
  },
  {
    name: "target",
    kind: "string",
    valueName: "host:port",
    defaultText: "grpc.api.kentik.com:443",
    help: "Target for proxied BGP sessions (overrides region)",
  },
  {
    name: "token",
    kind: "string",
    valueName: "string",
    env: "KENTIK_API_TOKEN",
    help: "Kentik API token (prefer the env var: flags show up in ps)",
  },
  VERSION_FLAG,
  {
    name: "ca-file",
    kind: "string",
    valueName: "file",
    help: "PEM file of a private CA to trust for the target, besides the system store",
  },
  {
    name: "tls-server-name",
    kind: "string",
    valueName: "name",
    help: "Name to verify in the target's certificate (needed when --target is an IP)",
  },
  {
    name: "disable-metrics-export",
    kind: "bool",
    env: "BGPROXY_DISABLE_METRICS_EXPORT",
    defaultText: "false",
    help: "Disable metrics export (to Kentik, or to the --target gateway)",
  },
  {
    name: "heartbeat-interval",
    kind: "string",
    valueName: "seconds",
    defaultText: String(AGENT_DEFAULTS.heartbeatIntervalS),
    help: "Seconds between keepalives on the control stream",
  },
  {
    name: "heartbeat-timeout",
    kind: "string",
    valueName: "seconds",
    defaultText: String(AGENT_DEFAULTS.heartbeatTimeoutS),
    help: "Seconds without any answer before the connection is redialled (> interval)",
  },
  {
    name: "bridge-timeout",
    kind: "string",
    valueName: "seconds",
    defaultText: String(AGENT_DEFAULTS.bridgeTimeoutS),
    help: "Seconds a router's BGP session is kept up while the gateway is gone (0 = off)",
  },
  RESUME_WINDOW_FLAG,
  REPLAY_LIMIT_FLAG,
  DISABLE_THREAD_LOWERING_FLAG,
  HELP_FLAG,
];
