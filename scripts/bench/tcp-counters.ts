/**
 * A network namespace's TCP counters (/proc/net/snmp's Tcp and /proc/net/netstat's TcpExt
 * lines, read inside the namespace): load-independent evidence of how a path delivers its
 * bytes, e.g. segments sent, receive queues collapsed or pruned when many small segments
 * wait unread, zero windows advertised while a reader holds off.
 */

import { parseNetstat } from "../../src/agent/md5/tcp-md5-counters.ts";
import type { Netns } from "../../test/support/netns.ts";

export type TcpCounters = Record<string, number>;

/**
 * The chosen tables of /proc/net/{snmp,netstat} (parsed by the agent's parseNetstat) as one
 * flat record keyed "Prefix.Name".
 */
export function parseProcNetTables(text: string, prefixes: readonly string[]): TcpCounters {
  const tables = parseNetstat(text);
  const out: TcpCounters = {};
  for (const prefix of prefixes)
    for (const [name, value] of Object.entries(tables[prefix] ?? {}))
      out[`${prefix}.${name}`] = value;
  return out;
}

export async function readTcpCounters(ns: Netns): Promise<TcpCounters> {
  const r = await ns.exec(["cat", "/proc/net/snmp", "/proc/net/netstat"]);
  return parseProcNetTables(r.stdout, ["Tcp", "TcpExt"]);
}

export function counterDelta(a: TcpCounters, b: TcpCounters): TcpCounters {
  const out: TcpCounters = {};
  for (const [k, v] of Object.entries(b)) out[k] = v - (a[k] ?? 0);
  return out;
}
