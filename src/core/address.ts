import { isIP } from "node:net";
import { BgpProxyError } from "./errors.ts";

/** "ip:port", with IPv6 addresses in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "192.0.2.1" → 0xC0000201; throws a config error on anything but a dotted quad. */
export function ipv4ToNumber(text: string): number {
  const parts = text.split(".");
  const valid = (p: string) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255;
  if (parts.length !== 4 || !parts.every(valid)) {
    throw new BgpProxyError("config", `invalid IPv4 address: ${JSON.stringify(text)}`, {
      retryable: false,
    });
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** The canonical form of an IP literal (IPv6 lowercased and compressed), or undefined. */
export function canonicalIp(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return undefined;
  const zoneAt = text.indexOf("%");
  const addr = zoneAt < 0 ? text : text.slice(0, zoneAt);
  const zone = zoneAt < 0 ? "" : text.slice(zoneAt);
  let canonical: string;
  try {
    canonical = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  return `${canonical}${zone}`;
}

/** Like canonicalIp, but an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4. */
export function canonicalDeviceIp(text: string): string | undefined {
  const ip = canonicalIp(text);
  const mapped = ip === undefined ? null : /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (!mapped) return ip;
  const hi = Number.parseInt(mapped[1] ?? "0", 16);
  const lo = Number.parseInt(mapped[2] ?? "0", 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/**
 * One spelling per address, so that device look-ups and deny-lists match however the
 * socket layer wrote it: IPv4-mapped IPv6 becomes IPv4, IPv6 is lowercased and compressed.
 * Text that is not an IP literal is returned unchanged.
 */
export function normalizeIp(ip: string): string {
  return canonicalDeviceIp(ip) ?? ip;
}
