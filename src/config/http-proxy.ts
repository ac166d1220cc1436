import { isIP } from "node:net";
import { canonicalIp, ipv4ToNumber } from "../core/address.ts";
import { ConfigError } from "../core/errors.ts";
import { isLoopbackHost } from "./address.ts";
import type { Environment } from "./flags.ts";
import { echo } from "./redaction.ts";
import type { HostPort, HttpProxy } from "./types.ts";

/**
 * The HTTP CONNECT proxy for the agent's gRPC connection, from the usual environment
 * variables (uppercase first, then lowercase; empty means unset):
 * - a TLS target uses HTTPS_PROXY, falling back to HTTP_PROXY; with --insecure the
 *   order is reversed;
 * - only http:// proxy URLs are supported (a URL without a scheme is taken as http://);
 * - NO_PROXY is a comma list of: "*" (no proxy at all); a host name, which also matches
 *   its subdomains, with or without a leading "." or "*."; an IP address; an IPv4 CIDR
 *   block; any of those with ":port" to match only that target port. Entries we cannot
 *   read are ignored, as other programs sharing the variable may understand them;
 * - a loopback target (localhost, 127.0.0.0/8, ::1) never goes through a proxy.
 */
export function resolveHttpProxy(
  target: HostPort,
  insecure: boolean,
  env: Environment,
): HttpProxy | undefined {
  const names = insecure
    ? ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"]
    : ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
  const name = names.find((n) => (env[n] ?? "") !== "");
  if (name === undefined) return undefined;
  if (isLoopbackHost(target.host)) return undefined;
  const noProxy = env.NO_PROXY || env.no_proxy || "";
  if (noProxyMatches(noProxy, target)) return undefined;
  return parseProxyUrl(env[name] ?? "", name);
}

/** The URL as it may appear in an error: any user:password replaced. */
function masked(url: string): string {
  return echo(url.replace(/\/\/[^/]*@/, "//***@"));
}

/** Parses an http:// proxy URL; `name` is the env var it came from, for errors. */
export function parseProxyUrl(text: string, name: string): HttpProxy {
  const raw = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`${name} ${masked(raw)} is not a valid proxy URL`);
  }
  if (url.protocol === "https:") {
    throw new ConfigError(
      `${name} ${masked(raw)}: https:// proxies are not supported, use an http:// proxy URL`,
    );
  }
  if (url.protocol !== "http:") {
    throw new ConfigError(
      `${name} ${masked(raw)}: unsupported proxy scheme ${JSON.stringify(url.protocol.slice(0, -1))}, use an http:// proxy URL`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new ConfigError(`${name} ${masked(raw)} has no host`);
  const port = url.port === "" ? 80 : Number(url.port);
  if (port < 1) throw new ConfigError(`${name} ${masked(raw)}: port 0 is not a valid port`);
  if (url.username === "" && url.password === "") return { host, port };
  let credentials: string;
  try {
    credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  } catch {
    throw new ConfigError(`${name} ${masked(raw)}: bad percent-encoding in the user or password`);
  }
  return { host, port, credentials };
}

function cidrMatches(entry: string, ip: string | undefined): boolean {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(entry);
  if (!m || ip === undefined || isIP(ip) !== 4 || isIP(m[1] ?? "") !== 4) return false;
  const bits = Number(m[2]);
  if (bits > 32) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (ipv4ToNumber(ip) & mask) >>> 0 === (ipv4ToNumber(m[1] ?? "") & mask) >>> 0;
}

/** Splits "host", "host:port", "[v6]:port" or a bare IPv6 address into host and port. */
function splitEntry(entry: string): { host: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    const host = bracketed[1] ?? "";
    return bracketed[2] === undefined ? { host } : { host, port: Number(bracketed[2]) };
  }
  const hostPort = /^([^:]+):(\d+)$/.exec(entry);
  if (hostPort) return { host: hostPort[1] ?? "", port: Number(hostPort[2]) };
  return { host: entry };
}

/** Whether a NO_PROXY list excludes `target` from proxying. */
export function noProxyMatches(list: string, target: HostPort): boolean {
  const host = target.host.toLowerCase().replace(/\.$/, "");
  const ip = canonicalIp(host);
  for (const raw of list.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    if (entry.includes("/")) {
      if (cidrMatches(entry, ip)) return true;
      continue;
    }
    const { host: entryHost, port } = splitEntry(entry);
    if (port !== undefined && port !== target.port) continue;
    const entryIp = canonicalIp(entryHost);
    if (entryIp !== undefined) {
      if (entryIp === ip) return true;
      continue;
    }
    const domain = entryHost.replace(/^\*?\./, "").replace(/\.$/, "");
    if (domain !== "" && (host === domain || host.endsWith(`.${domain}`))) return true;
  }
  return false;
}
