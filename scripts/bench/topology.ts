/**
 * The benchmark's network: three namespaces and three links, so that one router namespace
 * can reach the collector namespace by three separate paths —
 *
 *   R ──rc── C                                   (a) direct
 *   R ──rp── P: socat on rp .3 ──pc (from .3)── C  (b) plain userspace relay
 *   R ──rp── P: agent on rp .2 ⇒ gateway ──pc (from .1)── C  (c) bgproxy
 *
 * Nothing is routed between the links, so each path really carries its session. The far
 * end tells the paths apart by source address: rc .1 (direct), pc .3 (socat), pc .1 (the
 * gateway's forward source). `addSourceBlock` puts many extra router addresses on R's
 * loopback (the session-scale scenario), routed from P and C back over their links.
 * Namespaces come from test/support/netns.ts: removed at exit, on SIGINT/SIGTERM, or by the
 * next run's sweepStale.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  addAddress,
  addRoute,
  allocateSubnet,
  createNetns,
  linkNetns,
  type Netns,
  type VethLink,
} from "../../test/support/netns.ts";
import { run } from "../../test/support/process.ts";
import { makeTempDir } from "../../test/support/tempdir.ts";

export type PathName = "direct" | "socat" | "bgproxy";
export const PATHS: readonly PathName[] = ["direct", "socat", "bgproxy"];
export const PATH_LABEL: Record<PathName, string> = {
  direct: "(a) direct TCP",
  socat: "(b) socat relay",
  bgproxy: "(c) bgproxy (TLS)",
};

export interface BenchTopology {
  router: Netns;
  proxy: Netns;
  collector: Netns;
  /** R ↔ P: a = router (.1), b = agent (.2); socat listens on .3 of P's end. */
  rp: VethLink;
  /** P ↔ C: a = gateway forward source (.1), socat's source (.3); b = far end (.2). */
  pc: VethLink;
  /** R ↔ C: a = router (.1), b = far end (.2). */
  rc: VethLink;
  /** Scratch directory (configs, certificates, profiles), removed at exit. */
  dir: string;
  /** Where the router's session enters each path. */
  entrance: Record<PathName, { host: string; port: number; localAddress: string }>;
  /** The address the far end sees each path's connections come from. */
  farSource: Record<PathName, string>;
  /** The far end's address on each path. */
  farEnd: Record<PathName, string>;
  /** P's address socat listens on, and the one it connects to C from. */
  socatListen: string;
  socatSource: string;
}

export const BGP_PORT = 179;

export async function createBenchTopology(): Promise<BenchTopology> {
  const router = await createNetns();
  const proxy = await createNetns();
  const collector = await createNetns();
  const rp = await linkNetns(router, proxy);
  const pc = await linkNetns(proxy, collector);
  const rc = await linkNetns(router, collector);
  const socatListen = `10.255.${rp.subnet}.3`;
  const socatSource = `10.255.${pc.subnet}.3`;
  await addAddress(proxy, rp.b.ifname, `${socatListen}/24`);
  await addAddress(proxy, pc.a.ifname, `${socatSource}/24`);
  return {
    router,
    proxy,
    collector,
    rp,
    pc,
    rc,
    dir: makeTempDir("bench"),
    entrance: {
      direct: { host: rc.b.ipv4, port: BGP_PORT, localAddress: rc.a.ipv4 },
      socat: { host: socatListen, port: BGP_PORT, localAddress: rp.a.ipv4 },
      bgproxy: { host: rp.b.ipv4, port: BGP_PORT, localAddress: rp.a.ipv4 },
    },
    farSource: { direct: rc.a.ipv4, socat: socatSource, bgproxy: pc.a.ipv4 },
    farEnd: { direct: rc.b.ipv4, socat: pc.b.ipv4, bgproxy: pc.b.ipv4 },
    socatListen,
    socatSource,
  };
}

/**
 * Put `count` more router addresses on R's loopback, from fresh 10.255.n.0/24 blocks (250
 * per block), routed from P and C back to R. Returns the addresses.
 */
export async function addSourceBlock(topo: BenchTopology, count: number): Promise<string[]> {
  const addresses: string[] = [];
  const batch: string[] = [];
  while (addresses.length < count) {
    const subnet = allocateSubnet();
    await addRoute(topo.proxy, `10.255.${subnet}.0/24`, topo.rp.a.ipv4);
    await addRoute(topo.collector, `10.255.${subnet}.0/24`, topo.rc.a.ipv4);
    for (let host = 1; host <= 250 && addresses.length < count; host++) {
      const address = `10.255.${subnet}.${host}`;
      addresses.push(address);
      batch.push(`address add ${address}/32 dev lo`);
    }
  }
  const file = join(topo.dir, `sources-${addresses[0]}.batch`);
  writeFileSync(file, `${batch.join("\n")}\n`);
  await run(["ip", "-n", topo.router.name, "-batch", file], { timeoutMs: 60_000 });
  return addresses;
}
