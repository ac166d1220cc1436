/**
 * The benchmark table as BGP UPDATE bytes, for the raw generators (bgp-pump.ts): what a
 * router would send for it, consecutive routes with equal attributes sharing one UPDATE
 * (IPv4 in the NLRI field, IPv6 in MP_REACH_NLRI), 4-octet AS paths with the router's AS in
 * front, ORIGIN IGP. Pure: routes in, one buffer of whole messages out.
 */
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import type { TableRoute } from "./full-table.ts";

export interface UpdateStreamOptions {
  routerAsn: number;
  nextHop4: string;
  nextHop6: string;
}

export interface UpdateBlock {
  /** Whole UPDATE messages back to back. */
  bytes: Buffer;
  messages: number;
  prefixes: number;
}

const MAX_NLRI_PER_UPDATE = 200;

function sameAttributes(a: TableRoute, b: TableRoute): boolean {
  if (a.v6 !== b.v6 || a.path.length !== b.path.length) return false;
  if (a.communities.length !== b.communities.length) return false;
  for (let i = 0; i < a.path.length; i++) if (a.path[i] !== b.path[i]) return false;
  for (let i = 0; i < a.communities.length; i++) {
    const x = a.communities[i] as readonly [number, number];
    const y = b.communities[i] as readonly [number, number];
    if (x[0] !== y[0] || x[1] !== y[1]) return false;
  }
  return true;
}

/** Encode `routes` (in order) as UPDATEs. */
export function encodeUpdateBlock(
  routes: Iterable<TableRoute>,
  options: UpdateStreamOptions,
): UpdateBlock {
  const parts: Uint8Array[] = [];
  let total = 0;
  let prefixes = 0;
  let group: TableRoute[] = [];
  const flush = () => {
    const first = group[0];
    if (!first) return;
    const communities = first.communities.map(([as, v]) => as * 0x10000 + v);
    const base = {
      origin: 0,
      asPath: [options.routerAsn, ...first.path],
      communities,
    };
    const nlri = group.map((r) => r.prefix);
    const message = first.v6
      ? encodeUpdate({ ...base, mpReach: { nextHop: options.nextHop6, nlri } })
      : encodeUpdate({ ...base, nextHop: options.nextHop4, nlri });
    parts.push(message);
    total += message.length;
    prefixes += group.length;
    group = [];
  };
  for (const route of routes) {
    const last = group[group.length - 1];
    if (last && (!sameAttributes(last, route) || group.length >= MAX_NLRI_PER_UPDATE)) flush();
    group.push(route);
  }
  flush();
  return { bytes: Buffer.concat(parts, total), messages: parts.length, prefixes };
}
