/**
 * The stack of the resilience end-to-end tests (bridging, reload): the relay topology
 * (relay-topology.ts), `bgproxy gateway` in P on a fixed gRPC address (so that it can be
 * killed or stopped and started again where the agent dials), and `bgproxy agent` in P.
 * The router daemon (and a far-end daemon in C, if any) are the test's own.
 */
import { afterAll, beforeAll } from "bun:test";
import {
  type BgproxyProcess,
  type GatewayFileSpec,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "./bgproxy-process.ts";
import { Bird, type ProtocolStatus, parseRoutePrefixes } from "./bird.ts";
import { destroyAllNetns } from "./netns.ts";
import { createRelayTopology, type RelayTopology } from "./relay-topology.ts";
import { waitUntil } from "./wait.ts";

export interface BridgeStack {
  readonly topo: RelayTopology;
  /** The gateway running now (a new one after `restartGateway`). */
  readonly gateway: GatewayProcess;
  readonly agent: BgproxyProcess;
  readonly spec: GatewayFileSpec;
  /** Stops the gateway (SIGKILL, or SIGTERM: a drain); its log stays readable. */
  stopGateway(how: "kill" | "term"): Promise<GatewayProcess>;
  /** Starts a new gateway on the same address with the same file. */
  startGatewayAgain(): Promise<GatewayProcess>;
  /** Both: returns the stopped gateway. */
  restartGateway(how: "kill" | "term"): Promise<GatewayProcess>;
  /** Log tails of the bgproxy processes after `extra` (the daemons' tails). */
  diagnostics(extra?: string): string;
  stop(): Promise<void>;
}

export interface BridgeStackOptions {
  /** With a far-end namespace C (forward targets). */
  collector: boolean;
  /**
   * The gateway's gRPC address, fixed so that a restarted gateway is found: inside P, or
   * (with `gatewayInC`) a function of the topology giving an address in C.
   */
  grpc: string | ((topo: RelayTopology) => string);
  /** Run the gateway in C (needs `collector: true`): agent and gateway then talk over a veth. */
  gatewayInC?: boolean;
  spec(topo: RelayTopology): GatewayFileSpec;
  /** The agent's router-facing listeners, e.g. [`${rp.b.ipv4}:179`]. */
  listen(topo: RelayTopology): string[];
  /** Extra `bgproxy agent` flags (e.g. `--resume-window 5`). */
  agentArgs?: string[];
}

export async function startBridgeStack(options: BridgeStackOptions): Promise<BridgeStack> {
  const topo = await createRelayTopology({ collector: options.collector });
  const spec = options.spec(topo);
  const grpc = typeof options.grpc === "string" ? options.grpc : options.grpc(topo);
  const gatewayNetns = options.gatewayInC ? topo.collector : topo.proxy;
  if (!gatewayNetns) throw new Error("gatewayInC needs the collector namespace");
  let gateway: GatewayProcess | undefined;
  let agent: BgproxyProcess | undefined;
  const stop = async () => {
    await agent?.stop();
    await gateway?.stop();
    await destroyAllNetns();
  };
  const startGateway = (label: string) =>
    startGatewayProcess({ netns: gatewayNetns, dir: topo.dir, spec, listen: grpc, label });
  try {
    gateway = await startGateway("gateway");
    agent = await startAgentProcess({
      netns: topo.proxy,
      listen: options.listen(topo),
      target: grpc,
      ...(options.agentArgs ? { extraArgs: options.agentArgs } : {}),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const ag = agent;
  const gateways = restartableGateway(gateway, startGateway);
  return {
    topo,
    get gateway() {
      return gateways.current;
    },
    agent: ag,
    spec,
    stopGateway: gateways.stop,
    startGatewayAgain: async () => {
      gateway = await gateways.startAgain();
      return gateway;
    },
    async restartGateway(how) {
      const stopped = await gateways.stop(how);
      gateway = await gateways.startAgain();
      return stopped;
    },
    diagnostics: (extra = "") =>
      [extra, `--- agent\n${ag.tail(30)}`, `--- gateway\n${gateways.current.tail(20)}`].join("\n"),
    stop,
  };
}

/** A gateway that a test stops (SIGKILL, or SIGTERM: a drain) and starts again on the same address. */
export interface RestartableGateway {
  readonly current: GatewayProcess;
  /** Stops the current gateway; its log stays readable. */
  stop(how: "kill" | "term"): Promise<GatewayProcess>;
  /** Starts a new one (labelled gateway-2, gateway-3, ...) with `start`. */
  startAgain(): Promise<GatewayProcess>;
}

export function restartableGateway(
  first: GatewayProcess,
  start: (label: string) => Promise<GatewayProcess>,
): RestartableGateway {
  let current = first;
  let restarts = 0;
  return {
    get current() {
      return current;
    },
    async stop(how) {
      if (how === "kill") await current.process.stop({ signal: "SIGKILL" });
      else await current.stop();
      return current;
    },
    async startAgain() {
      restarts++;
      current = await start(`gateway-${restarts + 1}`);
      return current;
    },
  };
}

/** The agent's log lines of a lost far end and of a new far end taking over. */
export const BRIDGE_LOG = {
  lost: "far end lost: keeping the router's BGP session up",
  /** A bridged session's new far end lost in its handshake (not a far end lost again). */
  handshakeLost: "the new far end was lost in its handshake: dialling another",
  tookOver: "a new far end took over the router's session",
} as const;

/** A BIRD router in R (AS 65001) whose protocol "to_agent" peers with the agent (AS 64512). */
export function startRouterBird(
  stack: BridgeStack,
  static4: readonly string[],
  static6: readonly string[],
): Promise<Bird> {
  const { rp } = stack.topo;
  return Bird.start(
    {
      routerId: rp.a.ipv4,
      asn: 65001,
      neighbors: [
        {
          name: "to_agent",
          address: rp.b.ipv4,
          asn: 64512,
          localAddress: rp.a.ipv4,
          import: "none",
        },
      ],
      static4: [...static4],
      static6: [...static6],
    },
    { netns: stack.topo.router, label: "router" },
  );
}

/** The stack and router BIRD of `useRouterBirdStack`, readable once `beforeAll` has run. */
export interface RouterBirdStack {
  readonly stack: BridgeStack;
  readonly router: Bird | undefined;
  /** The stack's log tails after the router BIRD's. */
  diagnostics(): string;
}

/**
 * The set-up of the tests with one BIRD router (startRouterBird, announcing `static4` and
 * `static6`): the stack and the router started in `beforeAll`, stopped in `afterAll`.
 */
export function useRouterBirdStack(
  options: BridgeStackOptions,
  static4: readonly string[],
  static6: readonly string[],
): RouterBirdStack {
  let stack: BridgeStack | undefined;
  let router: Bird | undefined;
  beforeAll(async () => {
    stack = await startBridgeStack(options);
    router = await startRouterBird(stack, static4, static6);
  }, 60_000);
  afterAll(async () => {
    await router?.stop();
    await stack?.stop();
  }, 30_000);
  return {
    get stack() {
      if (!stack) throw new Error("bridge stack not started");
      return stack;
    },
    get router() {
      return router;
    },
    diagnostics: () =>
      stack?.diagnostics(router ? `--- router BIRD\n${router.logTail(20)}` : "") ?? "",
  };
}

/** The gateway file of one router (`device` at R's address) peering with the built-in collector. */
export function collectorSpec(device = "edge-r1"): (topo: RelayTopology) => GatewayFileSpec {
  return ({ rp }) => ({
    collector: { asn: 64512, routerId: "192.0.2.1" },
    devices: [{ name: device, id: 1001, ip: rp.a.ipv4, target: "collector" }],
  });
}

/**
 * The gateway file of one router (`device` at R's address) whose session the gateway
 * forwards from C's address on the P–C link to a daemon at C's far end (`startForwardedBird`).
 */
export function forwardSpec(device: string, id: number): (topo: RelayTopology) => GatewayFileSpec {
  return ({ rp, pc }) => ({
    collector: { asn: 64512, routerId: "192.0.2.1" },
    devices: [
      {
        name: device,
        id,
        ip: rp.a.ipv4,
        target: "forward",
        forward: `${pc?.b.ipv4}:179`,
        forwardSource: pc?.a.ipv4,
      },
    ],
  });
}

/**
 * The far end of a `forwardSpec` stack: a BIRD daemon in C (AS 64512) whose passive
 * protocol `protocol` takes the router's session (AS 65001) from the gateway, exporting nothing.
 */
export function startForwardedBird(
  stack: BridgeStack,
  protocol: string,
  label: string,
): Promise<Bird> {
  const { pc, collector } = stack.topo;
  if (!pc || !collector) throw new Error("topology without a collector namespace");
  return Bird.start(
    {
      routerId: pc.b.ipv4,
      asn: 64512,
      neighbors: [
        {
          name: protocol,
          address: pc.a.ipv4,
          asn: 65001,
          localAddress: pc.b.ipv4,
          passive: true,
          multihop: true,
          export: "none",
        },
      ],
    },
    { netns: collector, label },
  );
}

/** Waits for the BIRD `daemon`'s `protocol` to hold exactly the prefixes `want`; `what` names it. */
export function birdHolds(
  daemon: Bird | undefined,
  protocol: string,
  want: readonly string[],
  options: { what: string; diagnostics: () => string },
): Promise<string[]> {
  const sorted = [...want].sort();
  let last: string[] = [];
  return waitUntil(
    async () => {
      last = parseRoutePrefixes((await daemon?.birdc("show", "route", "protocol", protocol)) ?? "");
      return JSON.stringify(last) === JSON.stringify(sorted) ? last : undefined;
    },
    {
      timeoutMs: 30_000,
      what: `${options.what} = ${JSON.stringify(sorted)}`,
      diagnostics: () => `last seen: ${JSON.stringify(last)}\n${options.diagnostics()}`,
    },
  );
}

/** Waits for the router BIRD's `protocol` to be Established; returns its state (with `since`). */
export function routerEstablished(
  router: Bird | undefined,
  diagnostics: () => string,
  protocol = "to_agent",
): Promise<ProtocolStatus> {
  const bird = router;
  if (!bird) throw new Error("router BIRD not started");
  return waitUntil(
    async () => {
      const s = await bird.protocolState(protocol);
      return s?.info.startsWith("Established") ? s : undefined;
    },
    { timeoutMs: 20_000, what: `router: ${protocol} Established`, diagnostics },
  );
}

/** Waits for `gateway`'s collector to hold exactly `ipv4` + `ipv6` prefixes of `device`. */
export function collectorHolds(
  gateway: GatewayProcess,
  ipv4: number,
  ipv6: number,
  options: { device?: string; timeoutMs?: number; diagnostics: () => string },
) {
  const device = options.device ?? "edge-r1";
  return waitUntil(
    async () => {
      const d = await gateway.device(device);
      return d.state === "established" && d.prefixes.ipv4 === ipv4 && d.prefixes.ipv6 === ipv6
        ? d
        : undefined;
    },
    {
      timeoutMs: options.timeoutMs ?? 30_000,
      what: `the collector holding ${device}'s ${ipv4} + ${ipv6} prefixes`,
      diagnostics: options.diagnostics,
    },
  );
}
