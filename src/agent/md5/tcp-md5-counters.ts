import { readFileSync } from "node:fs";

/**
 * The kernel's TCP-MD5 counters (TcpExt in /proc/net/netstat, per network namespace): how an
 * operator sees a key mismatch, since such segments never reach the agent.
 * - TCPMD5NotFound: a segment without a signature from a peer that has a key (router without
 *   a password, agent with a key);
 * - TCPMD5Unexpected: a signed segment from a peer without a key (before the key is learned);
 * - TCPMD5Failure: a wrong signature (the passwords differ).
 */
export interface TcpMd5Counters {
  TCPMD5NotFound: number;
  TCPMD5Unexpected: number;
  TCPMD5Failure: number;
}

export const NETSTAT_PATH = "/proc/net/netstat";
const NAMES = ["TCPMD5NotFound", "TCPMD5Unexpected", "TCPMD5Failure"] as const;

/**
 * Every `Prefix: name ...` / `Prefix: value ...` line pair of /proc/net/netstat (or
 * /proc/net/snmp) as { prefix: { name: value } } (pure). Malformed pairs are skipped.
 */
export function parseNetstat(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i] ?? "";
    const values = lines[i + 1] ?? "";
    const colon = head.indexOf(":");
    if (colon < 0 || !values.startsWith(head.slice(0, colon + 1))) continue;
    const names = head
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const numbers = values
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (names.length !== numbers.length || numbers.some((n) => !/^-?\d+$/.test(n))) continue;
    const prefix = head.slice(0, colon);
    const table: Record<string, number> = {};
    names.forEach((name, k) => {
      table[name] = Number(numbers[k]);
    });
    out[prefix] = table;
    i++;
  }
  return out;
}

/** The three TCP-MD5 counters of a /proc/net/netstat text (0 where the kernel has none). */
export function tcpMd5Counters(netstat: string): TcpMd5Counters {
  const ext = parseNetstat(netstat).TcpExt ?? {};
  const [notFound, unexpected, failure] = NAMES.map((n) => ext[n] ?? 0);
  return {
    TCPMD5NotFound: notFound ?? 0,
    TCPMD5Unexpected: unexpected ?? 0,
    TCPMD5Failure: failure ?? 0,
  };
}

/**
 * Read the counters of this process's network namespace; what the metrics endpoint calls.
 * Undefined when the file cannot be read (not Linux, /proc not mounted): no made-up zeros.
 */
export function readTcpMd5Counters(path = NETSTAT_PATH): TcpMd5Counters | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  return tcpMd5Counters(text);
}
