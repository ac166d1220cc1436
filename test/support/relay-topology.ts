/**
 * The end-to-end relay topology: three namespaces in a row,
 *
 *   R (router) --veth rp-- P (proxy: agent + gateway) --veth pc-- C (collector daemon)
 *
 * R holds rp.a (10.255.r.1, fd00:255:r::1), the agent listens on rp.b (10.255.r.2, fd00:255:r::2)
 * port 179; the gateway forwards from pc.a (10.255.c.1) to the daemon on pc.b (10.255.c.2).
 * Agent and gateway talk gRPC over P's own 127.0.0.1. `collector: false` leaves C out (the
 * built-in collector needs no daemon). Nothing is routed between the links: every session is
 * really carried by the relay.
 */
import type { BirdNeighbor } from "./bird.ts";
import { addAddress, createNetns, linkNetns, type Netns, type VethLink } from "./netns.ts";
import { makeTempDir } from "./tempdir.ts";

export interface RelayTopology {
  router: Netns;
  proxy: Netns;
  /** R <-> P: a = router, b = agent. */
  rp: VethLink;
  collector?: Netns;
  /** P <-> C: a = gateway's forward source, b = collector daemon. */
  pc?: VethLink;
  /** Temp dir for configs (removed at process exit). */
  dir: string;
}

export interface RelayTopologyOptions {
  collector: boolean;
  /** Extra host numbers on the router's end (e.g. [3] adds 10.255.r.3/24). */
  extraRouterHosts?: readonly number[];
  /** Extra host numbers on the proxy's end towards C (more forward sources). */
  extraForwardHosts?: readonly number[];
}

export async function createRelayTopology(options: RelayTopologyOptions): Promise<RelayTopology> {
  const router = await createNetns();
  const proxy = await createNetns();
  const rp = await linkNetns(router, proxy);
  for (const host of options.extraRouterHosts ?? []) {
    await addAddress(router, rp.a.ifname, `10.255.${rp.subnet}.${host}/24`);
  }
  const dir = makeTempDir("relay");
  if (!options.collector) return { router, proxy, rp, dir };
  const collector = await createNetns();
  const pc = await linkNetns(proxy, collector);
  for (const host of options.extraForwardHosts ?? []) {
    await addAddress(proxy, pc.a.ifname, `10.255.${pc.subnet}.${host}/24`);
  }
  return { router, proxy, rp, collector, pc, dir };
}

/** 10.255.<link's subnet>.<host>. */
export function hostIn(link: VethLink, host: number): string {
  return `10.255.${link.subnet}.${host}`;
}

/**
 * The router BIRD's neighbour in R towards the agent on rp.b (AS `asn`, nothing imported):
 * "to_agent4" over IPv4, or "to_agent6" over IPv6 (its IPv4 routes with R's IPv4 next hop).
 */
export function agentNeighbor(rp: VethLink, family: 4 | 6, asn: number): BirdNeighbor {
  return family === 4
    ? { name: "to_agent4", address: rp.b.ipv4, asn, localAddress: rp.a.ipv4, import: "none" }
    : {
        name: "to_agent6",
        address: rp.b.ipv6,
        asn,
        localAddress: rp.a.ipv6,
        ipv4NextHop: rp.a.ipv4,
        import: "none",
      };
}
