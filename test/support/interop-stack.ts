/**
 * The stack every interoperability test (test/e2e/interop-*.test.ts) puts a third-party router
 * in front of: the relay topology (relay-topology.ts) with one router namespace R holding three
 * source addresses, `bgproxy agent` in P listening on three addresses, `bgproxy gateway` in P
 * with one device per session, and a passive, multihop BIRD collector in C.
 *
 *   session    router (R)   agent (P)    device           target
 *   collector  10.255.n.1   10.255.n.2   edge-collector   the gateway's built-in collector
 *   forward    10.255.n.3   10.255.n.4   edge-forward     forwarded to BIRD on 10.255.c.2:179
 *   wrongAs    10.255.n.5   10.255.n.6   edge-wrong-as    built-in collector (AS 64512), while
 *                                                         the router expects AS 64999
 *
 * One router daemon with three neighbours drives all three sessions at once, so a daemon that
 * is slow to connect (GoBGP) pays its delay once. The router's AS is ROUTER_AS and the
 * collector's (built-in and BIRD) COLLECTOR_AS.
 */
import { expect } from "bun:test";
import {
  type BgproxyProcess,
  type DeviceView,
  type GatewayProcess,
  type LogRecord,
  startAgentProcess,
  startGatewayProcess,
} from "./bgproxy-process.ts";
import { Bird, parseRoutePrefixes } from "./bird.ts";
import { addAddress, destroyAllNetns } from "./netns.ts";
import { createRelayTopology, hostIn, type RelayTopology } from "./relay-topology.ts";
import { waitUntil } from "./wait.ts";

export const ROUTER_AS = 65001;
export const COLLECTOR_AS = 64512;
/** What the router of the wrongAs session is told its neighbour's AS is. */
export const WRONG_PEER_AS = 64999;
export const COLLECTOR_ROUTER_ID = "192.0.2.1";
/** The BIRD collector's protocol for the forwarded session. */
export const BIRD_PROTOCOL = "from_router";

export interface InteropSession {
  /** The gateway device's name. */
  device: string;
  /** The router's source address (the device's address). */
  router: string;
  /** Where the router connects to: the agent's listener. */
  agent: string;
}

export interface InteropStack {
  topo: RelayTopology;
  gateway: GatewayProcess;
  agent: BgproxyProcess;
  collector: Bird;
  /** The router's IPv6 address on the R-P link (usable as an IPv6 next hop). */
  routerIpv6: string;
  sessions: { collector: InteropSession; forward: InteropSession; wrongAs: InteropSession };
  /** Log tails of the bgproxy processes and BIRD, with `router` (the daemon's) first. */
  diagnostics(router?: string): string;
  /** Wait until /api/devices shows `device` passing `ok`; returns that view. */
  waitDevice(
    device: string,
    what: string,
    ok: (d: DeviceView) => boolean,
    router?: () => string,
  ): Promise<DeviceView>;
  /** Wait for a gateway log record `msg` passing `where`; returns it. */
  waitGatewayRecord(
    msg: string,
    where: (r: LogRecord) => boolean,
    timeoutMs: number,
    router?: () => string,
  ): Promise<LogRecord>;
  /** warn and error records of the gateway and the agent about `session`'s router. */
  complaints(session: InteropSession): LogRecord[];
  /** Wait until the BIRD collector's routes from the router are exactly `expected`. */
  waitCollectorRoutes(expected: readonly string[], router?: () => string): Promise<string[]>;
  stop(): Promise<void>;
}

const session = (device: string, link: RelayTopology["rp"], router: number): InteropSession => ({
  device,
  router: hostIn(link, router),
  agent: hostIn(link, router + 1),
});

/** Build the topology, start BIRD in C, the gateway and the agent in P. */
export async function startInteropStack(): Promise<InteropStack> {
  const topo = await createRelayTopology({ collector: true, extraRouterHosts: [3, 5] });
  const { rp, pc } = topo;
  if (!pc || !topo.collector) throw new Error("topology without a collector namespace");
  const sessions = {
    collector: session("edge-collector", rp, 1),
    forward: session("edge-forward", rp, 3),
    wrongAs: session("edge-wrong-as", rp, 5),
  };
  for (const s of [sessions.forward, sessions.wrongAs]) {
    await addAddress(topo.proxy, rp.b.ifname, `${s.agent}/24`);
  }

  let collector: Bird | undefined;
  let gateway: GatewayProcess | undefined;
  let agent: BgproxyProcess | undefined;
  const stop = async () => {
    await agent?.stop();
    await gateway?.stop();
    await collector?.stop();
    await destroyAllNetns();
  };
  try {
    collector = await Bird.start(
      {
        routerId: pc.b.ipv4,
        asn: COLLECTOR_AS,
        neighbors: [
          {
            name: BIRD_PROTOCOL,
            address: pc.a.ipv4,
            asn: ROUTER_AS,
            localAddress: pc.b.ipv4,
            passive: true,
            multihop: true,
            export: "none",
          },
        ],
      },
      { netns: topo.collector, label: "collector" },
    );
    gateway = await startGatewayProcess({
      netns: topo.proxy,
      dir: topo.dir,
      spec: {
        collector: { asn: COLLECTOR_AS, routerId: COLLECTOR_ROUTER_ID },
        devices: [
          {
            name: sessions.collector.device,
            id: 3001,
            ip: sessions.collector.router,
            target: "collector",
          },
          {
            name: sessions.forward.device,
            id: 3002,
            ip: sessions.forward.router,
            target: "forward",
            forward: `${pc.b.ipv4}:179`,
            forwardSource: pc.a.ipv4,
          },
          {
            name: sessions.wrongAs.device,
            id: 3003,
            ip: sessions.wrongAs.router,
            target: "collector",
          },
        ],
      },
    });
    agent = await startAgentProcess({
      netns: topo.proxy,
      listen: Object.values(sessions).map((s) => `${s.agent}:179`),
      target: gateway.target,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const bird = collector;
  const gw = gateway;
  const ag = agent;

  const diagnostics = (router?: string) =>
    [
      router ?? "",
      `--- collector BIRD\n${bird.logTail(15)}`,
      `--- agent\n${ag.tail(25)}`,
      `--- gateway\n${gw.tail(25)}`,
    ].join("\n");

  const waitDevice: InteropStack["waitDevice"] = (device, what, ok, router) => {
    let last: DeviceView | undefined;
    return waitUntil(
      async () => {
        last = await gw.device(device);
        return ok(last) ? last : undefined;
      },
      {
        timeoutMs: 20_000,
        what: `/api/devices: ${device} ${what}`,
        diagnostics: () => `last seen: ${JSON.stringify(last)}\n${diagnostics(router?.())}`,
      },
    );
  };

  const waitGatewayRecord: InteropStack["waitGatewayRecord"] = (msg, where, timeoutMs, router) =>
    waitUntil(() => gw.find(msg).find(where), {
      timeoutMs,
      what: `gateway: log record ${JSON.stringify(msg)}`,
      diagnostics: () => diagnostics(router?.()),
    });

  const waitCollectorRoutes: InteropStack["waitCollectorRoutes"] = (expected, router) => {
    const want = [...expected].sort();
    let last: string[] = [];
    return waitUntil(
      async () => {
        last = parseRoutePrefixes(await bird.birdc("show", "route", "protocol", BIRD_PROTOCOL));
        return JSON.stringify(last) === JSON.stringify(want) ? last : undefined;
      },
      {
        timeoutMs: 20_000,
        what: `BIRD collector: routes from the router = ${JSON.stringify(want)}`,
        diagnostics: async () =>
          `last seen: ${JSON.stringify(last)}\n${await bird
            .birdc("show", "protocols", "all", BIRD_PROTOCOL)
            .catch(String)}\n${diagnostics(router?.())}`,
      },
    );
  };

  const complaints: InteropStack["complaints"] = (s) =>
    [...gw.records(), ...ag.records()].filter(
      (r) => (r.level === "warn" || r.level === "error") && r.device_ip === s.router,
    );

  return {
    topo,
    gateway: gw,
    agent: ag,
    collector: bird,
    routerIpv6: rp.a.ipv6,
    sessions,
    diagnostics,
    waitDevice,
    waitGatewayRecord,
    complaints,
    waitCollectorRoutes,
    stop,
  };
}

/**
 * Announce, count: the router has announced 3 IPv4 and 2 IPv6 prefixes on every session; the
 * built-in collector's device shows exactly those counts, Established, with UPDATEs counted.
 */
export async function expectAnnouncedCounts(
  stack: InteropStack,
  router?: () => string,
): Promise<DeviceView> {
  const device = await stack.waitDevice(
    stack.sessions.collector.device,
    "prefixes {ipv4: 3, ipv6: 2}",
    (d) => d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2,
    router,
  );
  expect(device.state).toBe("established");
  expect(device.updates).toBeGreaterThan(0);
  return device;
}

/**
 * Withdraw, count: `withdraw` makes the router withdraw one IPv4 and one IPv6 prefix. Both
 * relayed devices (collector and forward) drop to 2 + 1 and stay Established, BIRD holds
 * exactly `remaining`, more UPDATEs were counted, no session was re-opened, and neither the
 * agent nor the gateway complained. The caller checks the router's own view of its sessions.
 */
export async function expectWithdrawnCounts(
  stack: InteropStack,
  withdraw: () => unknown,
  remaining: readonly string[],
  router?: () => string,
): Promise<void> {
  const { collector, forward } = stack.sessions;
  const before = await stack.gateway.device(collector.device);
  const forwardBefore = await stack.gateway.device(forward.device);
  await withdraw();
  for (const s of [collector, forward]) {
    const device = await stack.waitDevice(
      s.device,
      "prefixes {ipv4: 2, ipv6: 1}",
      (d) => d.prefixes.ipv4 === 2 && d.prefixes.ipv6 === 1,
      router,
    );
    expect(device.state).toBe("established");
  }
  expect(await stack.waitCollectorRoutes(remaining, router)).toEqual([...remaining]);
  const after = await stack.gateway.device(collector.device);
  expect(after.updates).toBeGreaterThan(before.updates);
  expect(after.sessions_total).toBe(before.sessions_total);
  expect((await stack.gateway.device(forward.device)).sessions_total).toBe(
    forwardBefore.sessions_total,
  );
  // Nothing in these sessions made the agent or the gateway complain.
  expect(stack.complaints(collector)).toEqual([]);
  expect(stack.complaints(forward)).toEqual([]);
}
