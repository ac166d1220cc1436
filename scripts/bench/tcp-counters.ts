/**
 * A network namespace's TCP counters (/proc/net/snmp's Tcp and /proc/net/netstat's TcpExt
 * lines, read inside the namespace): load-independent evidence of how a path delivers its
 * bytes, e.g. segments sent, receive queues collapsed or pruned when many small segments
 * wait unread, zero windows advertised while a reader holds off.
 */

import type { Netns } from "../../test/support/netns.ts";
import { run } from "../../test/support/process.ts";

export type TcpCounters = Record<string, number>;

/** The two-line "Prefix: names / Prefix: values" tables of /proc/net/{snmp,netstat}. */
export function parseProcNetTables(text: string, prefixes: readonly string[]): TcpCounters {
  const out: TcpCounters = {};
  const lines = text.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i] as string;
    const prefix = head.slice(0, head.indexOf(":"));
    const values = lines[i + 1] as string;
    if (!prefixes.includes(prefix) || !values.startsWith(`${prefix}:`)) continue;
    const names = head.split(/\s+/).slice(1);
    const nums = values.split(/\s+/).slice(1);
    names.forEach((n, k) => {
      out[`${prefix}.${n}`] = Number(nums[k]);
    });
    i++;
  }
  return out;
}

export async function readTcpCounters(ns: Netns): Promise<TcpCounters> {
  const r = await run([
    "ip",
    "netns",
    "exec",
    ns.name,
    "cat",
    "/proc/net/snmp",
    "/proc/net/netstat",
  ]);
  return parseProcNetTables(r.stdout, ["Tcp", "TcpExt"]);
}

export function counterDelta(a: TcpCounters, b: TcpCounters): TcpCounters {
  const out: TcpCounters = {};
  for (const [k, v] of Object.entries(b)) out[k] = v - (a[k] ?? 0);
  return out;
}
