import { isIP } from "node:net";

/** "ip:port", with IPv6 addresses in brackets. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * One spelling per address: IPv4-mapped IPv6 (::ffff:10.0.0.1) becomes plain IPv4 and
 * IPv6 is lowercased and compressed, so device look-ups and deny-lists match however the
 * socket layer wrote the address.
 */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}
