/**
 * The three router daemons of the fault matrix (test/support/fault-matrix.ts) behind one
 * interface: start with a list of sessions to the agent (some configured down until a fault
 * needs them), bring a session up or down, and read a session's *mark* — a string that stays
 * the same exactly as long as the router's session never left Established:
 *
 * - BIRD: the protocol's "since" time (milliseconds, `timeformat protocol`);
 * - FRR: `connectionsEstablished` / `connectionsDropped` of `show bgp neighbors X json`;
 * - GoBGP: `flops` and the uptime timestamp of `gobgp neighbor X -j`.
 *
 * A session that is not Established has no mark (undefined). Compare marks with `sameMark`
 * (BIRD's "since" within SINCE_JITTER_MS, test/support/bird.ts).
 */
import { Bird, type BirdNeighbor, SINCE_JITTER_MS, sinceApartMs } from "./bird.ts";
import { Frr } from "./frr.ts";
import { Gobgp } from "./gobgp.ts";
import type { Netns } from "./netns.ts";

export type RouterKind = "bird" | "frr" | "gobgp";

/** Whether two marks (or two BIRD "since" values) stand for the same Established session. */
export function sameMark(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const time = /^(?:since )?(\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)$/;
  const [, ta] = a.match(time) ?? [];
  const [, tb] = b.match(time) ?? [];
  if (ta === undefined || tb === undefined) return false;
  return sinceApartMs(ta, tb) <= SINCE_JITTER_MS;
}

/** The keys of `after` whose mark is not the same as in `before`. */
export function movedMarks(
  before: ReadonlyMap<string, string | undefined>,
  after: ReadonlyMap<string, string | undefined>,
): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => !sameMark(before.get(k), after.get(k)));
}

/** One BGP session from the router to an agent address. */
export interface RouterSession {
  /** The router's source address (the gateway's device `ip`). */
  local: string;
  /** The agent's listening address the router connects to. */
  agent: string;
  /** Configured but down until `enable`. */
  down?: boolean;
  /** false: the router does not advertise route refresh (BIRD only). */
  routeRefresh?: false;
}

export interface RouterStartSpec {
  kind: RouterKind;
  netns: Netns;
  asn: number;
  /** The router's agent-facing AS (the collector's and far end's AS). */
  peerAsn: number;
  routerId: string;
  /** The router's IPv6 address on the link (next hop of its IPv6 routes). */
  ipv6: string;
  sessions: readonly RouterSession[];
  /** Announced on every session. */
  prefixes: readonly string[];
}

export interface RouterUnderTest {
  readonly kind: RouterKind;
  readonly prefixes: readonly string[];
  /** See the file comment; undefined when the session to `agent` is not Established. */
  mark(agent: string): Promise<string | undefined>;
  /** Bring the session to `agent` up (or down with `up` false). */
  enable(agent: string, up?: boolean): Promise<void>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const v4 = (ps: readonly string[]) => ps.filter((p) => !p.includes(":"));
const v6 = (ps: readonly string[]) => ps.filter((p) => p.includes(":"));

export function startRouter(spec: RouterStartSpec): Promise<RouterUnderTest> {
  if (spec.kind !== "bird" && spec.sessions.some((s) => s.routeRefresh === false)) {
    throw new Error(`${spec.kind}: turning route refresh off is only rendered for BIRD`);
  }
  if (spec.kind === "bird") return startBirdRouter(spec);
  if (spec.kind === "frr") return startFrrRouter(spec);
  return startGobgpRouter(spec);
}

async function startBirdRouter(spec: RouterStartSpec): Promise<RouterUnderTest> {
  const names = new Map(spec.sessions.map((s, i) => [s.agent, `to_agent${i}`]));
  const neighbors: BirdNeighbor[] = spec.sessions.map((s) => ({
    name: names.get(s.agent) ?? "",
    address: s.agent,
    asn: spec.peerAsn,
    localAddress: s.local,
    import: "none",
    disabled: s.down === true,
    ...(s.routeRefresh === false ? { routeRefresh: false } : {}),
  }));
  const bird = await Bird.start(
    {
      routerId: spec.routerId,
      asn: spec.asn,
      neighbors,
      static4: v4(spec.prefixes),
      static6: v6(spec.prefixes),
    },
    { netns: spec.netns, label: "router-bird" },
  );
  const protocol = (agent: string) => {
    const name = names.get(agent);
    if (name === undefined) throw new Error(`router-bird: no session to ${agent}`);
    return name;
  };
  return {
    kind: "bird",
    prefixes: spec.prefixes,
    async mark(agent) {
      const s = await bird.protocolState(protocol(agent));
      return s?.info.startsWith("Established") ? `since ${s.since}` : undefined;
    },
    enable: (agent, up = true) =>
      up ? bird.enable(protocol(agent)) : bird.disable(protocol(agent)),
    logTail: (lines) => bird.logTail(lines),
    stop: () => bird.stop(),
  };
}

interface FrrNeighborJson {
  bgpState?: string;
  connectionsEstablished?: number;
  connectionsDropped?: number;
}

async function startFrrRouter(spec: RouterStartSpec): Promise<RouterUnderTest> {
  const frr = await Frr.start(
    {
      routerId: spec.routerId,
      asn: spec.asn,
      neighbors: spec.sessions.map((s) => ({
        address: s.agent,
        asn: spec.peerAsn,
        updateSource: s.local,
        ipv6NextHop: spec.ipv6,
        shutdown: s.down === true,
      })),
      static4: v4(spec.prefixes),
      static6: v6(spec.prefixes),
    },
    { netns: spec.netns, label: "router-frr" },
  );
  return {
    kind: "frr",
    prefixes: spec.prefixes,
    async mark(agent) {
      const out = JSON.parse(await frr.vtysh(`show bgp neighbors ${agent} json`)) as Record<
        string,
        FrrNeighborJson | undefined
      >;
      const n = out[agent];
      if (n?.bgpState !== "Established") return undefined;
      return `established ${n.connectionsEstablished} dropped ${n.connectionsDropped}`;
    },
    enable: (agent, up = true) => frr.enableNeighbor(agent, up),
    logTail: (lines) => frr.logTail(lines),
    stop: () => frr.stop(),
  };
}

interface GobgpNeighborJson {
  state?: { session_state?: number; flops?: number };
  timers?: { state?: { uptime?: unknown } };
}

/** GoBGP's API enum value of ESTABLISHED (`session_state` in `neighbor X -j`). */
const GOBGP_ESTABLISHED = 6;

async function startGobgpRouter(spec: RouterStartSpec): Promise<RouterUnderTest> {
  const gobgp = await Gobgp.start(
    {
      routerId: spec.routerId,
      asn: spec.asn,
      ipv6NextHop: spec.ipv6,
      neighbors: spec.sessions.map((s) => ({
        address: s.agent,
        asn: spec.peerAsn,
        localAddress: s.local,
        adminDown: s.down === true,
      })),
    },
    { netns: spec.netns, label: "router-gobgp" },
  );
  await gobgp.addRoutes(spec.prefixes);
  return {
    kind: "gobgp",
    prefixes: spec.prefixes,
    async mark(agent) {
      const n = JSON.parse(await gobgp.cli("neighbor", agent, "-j")) as GobgpNeighborJson;
      if (n.state?.session_state !== GOBGP_ESTABLISHED) return undefined;
      return `flops ${n.state.flops ?? 0} uptime ${JSON.stringify(n.timers?.state?.uptime)}`;
    },
    enable: (agent, up = true) => gobgp.enableNeighbor(agent, up),
    logTail: (lines) => gobgp.logTail(lines),
    stop: () => gobgp.stop(),
  };
}
