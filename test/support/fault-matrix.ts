/**
 * The fault matrix's stack (issue 11; test/e2e/fault-matrix.test.ts): three routers — BIRD,
 * FRR and GoBGP, each in its own namespace — peer at once with one `bgproxy agent`, relayed to
 * one `bgproxy gateway`; every router has one session whose far end is the gateway's built-in
 * collector and one forwarded to a BIRD daemon.
 *
 *   R-bird  \                         gRPC over pc                 forward over cd
 *   R-frr  ---- rX ---- P (agent) ---------------- C (gateway) ---------------- D (BIRD)
 *   R-gobgp /
 *
 * On each router link rX: the router is .1 (device `<kind>-collector`), .3 (`<kind>-forward`)
 * and .5 (`<kind>-added`, known to the gateway only after a reload); agent A listens on .2,
 * .4 and .6, a second agent B (the duplicate-device fault) on .7 and .9. BIRD has a seventh
 * session, from .11 to the agent's .12, without route refresh (device `bird-norefresh`,
 * collector): where bridging cannot apply. The forwarded
 * sessions leave C from their own source addresses (cd .1, .3, .5) so that the BIRD in D
 * tells them apart (protocols from_bird, from_frr, from_gobgp). The gateway runs in C so
 * that a partition is the P end of pc going down; it can be killed or drained and started
 * again on the same address (bridge-stack.ts's `restartableGateway`).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type BgproxyProcess,
  type GatewayDevice,
  type GatewayFileSpec,
  type GatewayProcess,
  renderGatewayToml,
  startAgentProcess,
  startGatewayProcess,
} from "./bgproxy-process.ts";
import { Bird, parseRoutePrefixes } from "./bird.ts";
import { type RestartableGateway, restartableGateway } from "./bridge-stack.ts";
import { type RouterKind, type RouterUnderTest, startRouter } from "./matrix-routers.ts";
import {
  addAddress,
  createNetns,
  destroyAllNetns,
  linkNetns,
  type Netns,
  type VethLink,
} from "./netns.ts";
import { run } from "./process.ts";
import { hostIn } from "./relay-topology.ts";
import { makeTempDir } from "./tempdir.ts";
import { waitUntil } from "./wait.ts";

const COLLECTOR_AS = 64512;
const GRPC_PORT = 19460;
const KINDS: readonly RouterKind[] = ["bird", "frr", "gobgp"];

/** One router session through the agent, and the far end it reaches. */
export interface MatrixSession {
  /** The gateway's device name (`<kind>-collector`, `<kind>-forward`, `<kind>-added`). */
  readonly device: string;
  readonly router: RouterUnderTest;
  /** The agent address the router connects to. */
  readonly agent: string;
  readonly farEnd: "collector" | "forward";
}

export interface FaultMatrix {
  readonly routers: readonly RouterUnderTest[];
  /** The six sessions present from the start (router × far end). */
  readonly core: readonly MatrixSession[];
  /** One `<kind>-added` session per router (collector), down until `addDevices`. */
  readonly added: readonly MatrixSession[];
  /** The core sessions' twins through agent B (same router address), down until enabled. */
  readonly duplicates: readonly MatrixSession[];
  /** BIRD's session without route refresh (collector): bridging does not apply to it. */
  readonly noRefresh: MatrixSession;
  readonly agent: BgproxyProcess;
  readonly gateways: RestartableGateway;
  readonly farEnd: Bird;
  /** Marks (matrix-routers.ts) of `sessions`, by device; undefined: not Established. */
  marks(sessions: readonly MatrixSession[]): Promise<Map<string, string | undefined>>;
  /** Waits until every session's far end holds exactly its router's prefixes. */
  farEndsHold(sessions: readonly MatrixSession[], timeoutMs?: number): Promise<void>;
  /** Waits until every one of `sessions` is Established; returns their marks. */
  established(
    sessions: readonly MatrixSession[],
    timeoutMs?: number,
  ): Promise<Map<string, string | undefined>>;
  /** The far-end BIRD's "since" of each forwarded session (changes when its session restarts). */
  farEndSince(): Promise<Map<string, string | undefined>>;
  /** The P end of the agent–gateway link down for `ms`, then up again. */
  partition(ms: number): Promise<void>;
  /** `ss -K` on the agent's TCP connections to the gateway (the kernel resets them). */
  resetConnections(): Promise<void>;
  /** Rewrites gateway.toml with the `added` devices and sends SIGHUP. */
  addDevices(): void;
  /** Starts agent B on the duplicates' addresses. */
  startSecondAgent(): Promise<BgproxyProcess>;
  diagnostics(): string;
  stop(): Promise<void>;
}

/** 10.255.20x prefixes and fd00:255:20x::/48, three + two per router. */
function prefixesOf(index: number): string[] {
  const base = 201 + index * 3;
  return [
    ...[0, 1, 2].map((i) => `10.255.${base + i}.0/24`),
    ...[0, 1].map((i) => `fd00:255:${base + i}::/48`),
  ];
}

const farEndProtocol = (kind: RouterKind) => `from_${kind}`;

export async function startFaultMatrix(): Promise<FaultMatrix> {
  const dir = makeTempDir("matrix");
  const stoppers: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
    await destroyAllNetns();
  };
  try {
    return await build(dir, stoppers, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function build(
  dir: string,
  stoppers: (() => Promise<unknown>)[],
  stop: () => Promise<void>,
): Promise<FaultMatrix> {
  const proxy = await createNetns();
  const central = await createNetns();
  const daemon = await createNetns();
  const pc = await linkNetns(proxy, central);
  const cd = await linkNetns(central, daemon);
  const sources = KINDS.map((_, i) => hostIn(cd, 1 + 2 * i));
  for (const s of sources.slice(1)) await addAddress(central, cd.a.ifname, `${s}/24`);

  const routerNetns: Netns[] = [];
  const links: VethLink[] = [];
  for (const _ of KINDS) {
    const r = await createNetns();
    const link = await linkNetns(r, proxy);
    for (const h of [3, 5, 11]) await addAddress(r, link.a.ifname, `${hostIn(link, h)}/24`);
    for (const h of [4, 6, 7, 9, 12]) {
      await addAddress(proxy, link.b.ifname, `${hostIn(link, h)}/24`);
    }
    routerNetns.push(r);
    links.push(link);
  }
  const at = (i: number, host: number) => hostIn(links[i] ?? pc, host);

  const devices = (suffix: "collector" | "forward" | "added", host: number): GatewayDevice[] =>
    KINDS.map((kind, i) => ({
      name: `${kind}-${suffix}`,
      id: 3000 + i * 10 + host,
      ip: at(i, host),
      ...(suffix === "forward"
        ? { target: "forward", forward: `${cd.b.ipv4}:179`, forwardSource: sources[i] }
        : { target: "collector" }),
    }));
  let spec: GatewayFileSpec = {
    collector: { asn: COLLECTOR_AS, routerId: "192.0.2.1" },
    devices: [
      ...devices("collector", 1),
      ...devices("forward", 3),
      { name: "bird-norefresh", id: 3099, ip: at(0, 11), target: "collector" },
    ],
  };
  const farEnd = await Bird.start(
    {
      routerId: cd.b.ipv4,
      asn: COLLECTOR_AS,
      neighbors: KINDS.map((kind, i) => ({
        name: farEndProtocol(kind),
        address: sources[i] ?? "",
        asn: 65001 + i,
        localAddress: cd.b.ipv4,
        passive: true,
        multihop: true,
        export: "none" as const,
      })),
    },
    { netns: daemon, label: "far-end-bird" },
  );
  stoppers.push(() => farEnd.stop());

  const grpc = `${pc.b.ipv4}:${GRPC_PORT}`;
  const configPath = join(dir, "gateway.toml");
  const startGateway = (label: string) =>
    startGatewayProcess({ netns: central, dir, spec, listen: grpc, label });
  const gateways = restartableGateway(await startGateway("gateway"), startGateway);
  stoppers.push(() => gateways.current.stop());
  const agent = await startAgentProcess({
    netns: proxy,
    listen: [
      ...KINDS.flatMap((_, i) => [2, 4, 6].map((h) => `${at(i, h)}:179`)),
      `${at(0, 12)}:179`,
    ],
    target: grpc,
    extraArgs: ["--resume-window", "5"],
  });
  stoppers.push(() => agent.stop());
  let agentB: BgproxyProcess | undefined;
  stoppers.push(async () => agentB?.stop());

  const routers: RouterUnderTest[] = [];
  const core: MatrixSession[] = [];
  const added: MatrixSession[] = [];
  const duplicates: MatrixSession[] = [];
  for (const [i, kind] of KINDS.entries()) {
    const link = links[i];
    const netns = routerNetns[i];
    if (!link || !netns) throw new Error("matrix: topology incomplete");
    const router = await startRouter({
      kind,
      netns,
      asn: 65001 + i,
      peerAsn: COLLECTOR_AS,
      routerId: link.a.ipv4,
      ipv6: link.a.ipv6,
      prefixes: prefixesOf(i),
      sessions: [
        { local: at(i, 1), agent: at(i, 2) },
        { local: at(i, 3), agent: at(i, 4) },
        { local: at(i, 5), agent: at(i, 6), down: true },
        { local: at(i, 1), agent: at(i, 7), down: true },
        { local: at(i, 3), agent: at(i, 9), down: true },
        ...(kind === "bird"
          ? [{ local: at(i, 11), agent: at(i, 12), routeRefresh: false as const }]
          : []),
      ],
    });
    stoppers.push(() => router.stop());
    routers.push(router);
    core.push(
      { device: `${kind}-collector`, router, agent: at(i, 2), farEnd: "collector" },
      { device: `${kind}-forward`, router, agent: at(i, 4), farEnd: "forward" },
    );
    added.push({ device: `${kind}-added`, router, agent: at(i, 6), farEnd: "collector" });
    duplicates.push(
      { device: `${kind}-collector`, router, agent: at(i, 7), farEnd: "collector" },
      { device: `${kind}-forward`, router, agent: at(i, 9), farEnd: "forward" },
    );
  }

  const bird = routers[0];
  if (!bird) throw new Error("matrix: no BIRD router");
  const noRefresh: MatrixSession = {
    device: "bird-norefresh",
    router: bird,
    agent: at(0, 12),
    farEnd: "collector",
  };

  const diagnostics = () =>
    [
      ...routers.map((r) => `--- router ${r.kind}\n${r.logTail(15)}`),
      `--- far-end BIRD\n${farEnd.logTail(15)}`,
      `--- agent\n${agent.tail(30)}`,
      agentB ? `--- agent B\n${agentB.tail(15)}` : "",
      `--- ${gateways.current.process.label}\n${gateways.current.tail(25)}`,
    ].join("\n");

  const marks = async (sessions: readonly MatrixSession[]) => {
    const out = new Map<string, string | undefined>();
    for (const s of sessions) out.set(s.device, await s.router.mark(s.agent));
    return out;
  };

  const holds = async (s: MatrixSession, gateway: GatewayProcess): Promise<string[]> => {
    if (s.farEnd === "collector") {
      const device = await gateway.device(s.device);
      return device.state === "established" ? await gateway.routePrefixes(s.device) : [];
    }
    return parseRoutePrefixes(
      await farEnd.birdc("show", "route", "protocol", farEndProtocol(s.router.kind)),
    );
  };

  return {
    routers,
    core,
    added,
    duplicates,
    noRefresh,
    agent,
    gateways,
    farEnd,
    marks,
    async farEndsHold(sessions, timeoutMs = 40_000) {
      const missing = new Map<string, string>();
      await waitUntil(
        async () => {
          missing.clear();
          for (const s of sessions) {
            const want = [...s.router.prefixes].sort();
            const got = await holds(s, gateways.current);
            if (JSON.stringify(got) !== JSON.stringify(want)) {
              missing.set(s.device, JSON.stringify(got));
            }
          }
          return missing.size === 0;
        },
        {
          timeoutMs,
          what: "every far end holding exactly its router's prefixes",
          diagnostics: () =>
            `${[...missing].map(([d, got]) => `${d} holds ${got}`).join("\n")}\n${diagnostics()}`,
        },
      );
    },
    async established(sessions, timeoutMs = 40_000) {
      let last = new Map<string, string | undefined>();
      return waitUntil(
        async () => {
          last = await marks(sessions);
          return [...last.values()].every((m) => m !== undefined) ? last : undefined;
        },
        {
          timeoutMs,
          what: `sessions ${sessions.map((s) => s.device).join(", ")} Established`,
          diagnostics: () => `${JSON.stringify([...last])}\n${diagnostics()}`,
        },
      );
    },
    async farEndSince() {
      const out = new Map<string, string | undefined>();
      for (const kind of KINDS) {
        const s = await farEnd.protocolState(farEndProtocol(kind));
        out.set(`${kind}-forward`, s?.info.startsWith("Established") ? s.since : undefined);
      }
      return out;
    },
    async partition(ms) {
      await run(["ip", "link", "set", pc.a.ifname, "down"], { netns: proxy.name });
      await Bun.sleep(ms);
      await run(["ip", "link", "set", pc.a.ifname, "up"], { netns: proxy.name });
    },
    async resetConnections() {
      await run(["ss", "-K", "dst", pc.b.ipv4, "dport", "=", String(GRPC_PORT)], {
        netns: proxy.name,
      });
    },
    addDevices() {
      spec = { ...spec, devices: [...spec.devices, ...devices("added", 5)] };
      writeFileSync(configPath, renderGatewayToml(spec));
      process.kill(gateways.current.process.pid, "SIGHUP");
    },
    async startSecondAgent() {
      agentB = await startAgentProcess({
        netns: proxy,
        listen: KINDS.flatMap((_, i) => [7, 9].map((h) => `${at(i, h)}:179`)),
        target: grpc,
        label: "agent-b",
      });
      return agentB;
    },
    diagnostics,
    stop,
  };
}
