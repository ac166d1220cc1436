import { isIP } from "node:net";
import { canonicalDeviceIp, canonicalIp, hostPort } from "../core/address.ts";
import { ConfigError } from "../core/errors.ts";
import { echo, mark } from "./redaction.ts";
import type { HostPort } from "./types.ts";

/**
 * IP literals, host names and "host:port" strings. IPv6 goes in brackets when a port
 * follows ("[::1]:179"); HostPort.host never carries brackets.
 */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** A DNS host name (letters, digits, hyphens; dot-separated labels), not an IP. */
export function isHostname(text: string): boolean {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253 || /^[\d.]+$/.test(name)) return false;
  return name.split(".").every((label) => LABEL.test(label));
}

/** 127.0.0.0/8, ::1 (and its IPv4-mapped form) or "localhost". */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const ip = canonicalDeviceIp(host);
  if (ip === undefined) return false;
  return ip === "::1" || (isIP(ip) === 4 && ip.startsWith("127."));
}

/** "[::1]:179" for IPv6, "host:port" otherwise. */
export function formatHostPort(hp: HostPort): string {
  return hostPort(hp.host, hp.port);
}

/** Which hosts a host:port may name. */
export type HostRule = "ip" | "ip-or-localhost" | "any";

export interface HostPortRules {
  readonly hosts: HostRule;
  /** Port 0 (an ephemeral port) is allowed: for listeners. */
  readonly portZero: boolean;
  /** Shown in hints, e.g. "0.0.0.0:179". */
  readonly example: string;
  /**
   * A missing host (":179") means every address: these hosts, each with the given port
   * (the agent: 0.0.0.0 and ::, as Go's net.Listen takes ":179").
   */
  readonly everyAddress?: readonly string[];
}

/** Splits "host:port" / "[v6]:port" and explains what is wrong if it can't. */
function split(text: string, example: string): { host: string; port: string } | string {
  if (text.includes("://")) return `expected host:port without a scheme, e.g. ${example}`;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return 'missing "]" after the IPv6 address';
    const rest = text.slice(close + 1);
    if (rest === "" || rest === ":") return `missing port (expected [ipv6]:port, e.g. [::]:179)`;
    if (!rest.startsWith(":")) return 'expected ":port" after "]"';
    return { host: text.slice(1, close), port: rest.slice(1) };
  }
  const colon = text.lastIndexOf(":");
  if (colon < 0) return `missing port (expected host:port, e.g. ${example})`;
  const host = text.slice(0, colon);
  if (host.includes(":")) return "an IPv6 address needs brackets, e.g. [::1]:179";
  if (host === "") return `missing host (expected host:port, e.g. ${example})`;
  if (colon === text.length - 1) return `missing port (expected host:port, e.g. ${example})`;
  return { host, port: text.slice(colon + 1) };
}

function checkHost(host: string, bracketed: boolean, rule: HostRule): string | undefined {
  const ip = canonicalIp(host);
  if (bracketed) return ip?.includes(":") ? ip : undefined;
  if (ip !== undefined) return ip.includes(":") ? undefined : ip;
  if (rule === "ip-or-localhost" && host.toLowerCase() === "localhost") return "localhost";
  if (rule === "any" && isHostname(host)) return host.toLowerCase().replace(/\.$/, "");
  return undefined;
}

const HOST_EXPECTATION: Record<HostRule, string> = {
  ip: "an IP address",
  "ip-or-localhost": 'an IP address or "localhost"',
  any: "a host name or IP address",
};

/**
 * Parses "host:port"; `label` names the flag or key. Throws e.g. `--listen "1.2.3.4": missing port (expected host:port, e.g. ...)`.
 */
export function parseHostPort(text: string, label: string, rules: HostPortRules): HostPort {
  const fail = (why: string) => new ConfigError(`${label} ${echo(text)}: ${why}`);
  if (text.trim() === "") throw new ConfigError(`${label} is empty (expected host:port)`);
  const parts = split(text.trim(), rules.example);
  if (typeof parts === "string") throw fail(parts);
  const { host, port: portText } = parts;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (Number.isNaN(port)) throw fail(`port ${echo(portText)} is not a number`);
  const minPort = rules.portZero ? 0 : 1;
  if (port < minPort || port > 65535) throw fail(`port ${port} is out of range ${minPort}-65535`);
  const bracketed = text.trim().startsWith("[");
  const canonical = checkHost(host, bracketed, rules.hosts);
  if (canonical === undefined) {
    const what = bracketed ? "an IPv6 address" : HOST_EXPECTATION[rules.hosts];
    throw fail(`${echo(host)} is not ${what}`);
  }
  return { host: canonical, port };
}

/** One listen item: ":port" becomes every address of `rules.everyAddress`, if set. */
function expandEveryAddress(item: string, label: string, rules: HostPortRules): HostPort[] {
  if (!rules.everyAddress || !/^:\d*$/.test(item)) return [parseHostPort(item, label, rules)];
  return rules.everyAddress.map((host) =>
    parseHostPort(`${host.includes(":") ? `[${host}]` : host}${item}`, label, rules),
  );
}

/**
 * Parses listen addresses given as repeated and/or comma-separated values into a list of
 * unique HostPorts. Throws on an empty item or an address given twice.
 */
export function parseListenList(
  values: readonly string[],
  label: string,
  rules: HostPortRules,
): HostPort[] {
  const out: HostPort[] = [];
  for (const value of values) {
    if (value.trim() === "") throw new ConfigError(`${label} is empty (expected host:port)`);
    for (const item of value.split(",")) {
      if (item.trim() === "") {
        throw new ConfigError(`${label} ${echo(value)} has an empty item`);
      }
      for (const hp of expandEveryAddress(item.trim(), label, rules)) {
        if (out.some((o) => o.host === hp.host && o.port === hp.port)) {
          throw new ConfigError(`${label} lists ${mark(formatHostPort(hp))} twice`);
        }
        out.push(hp);
      }
    }
  }
  return out;
}
