/**
 * The setup the many-session scenarios (storm, bridge) share: N router addresses in R, the
 * session swarm worker there (session-swarm.ts), one collector device per address on a
 * bgproxy stack (relay-paths.ts), and the gateway's /api/devices summed over the devices
 * (sessions, Established sessions, prefixes) with a bounded poll until a condition holds.
 */
import type { GatewayProcess } from "../../test/support/bgproxy-process.ts";
import { WaitTimeoutError, waitUntil } from "../../test/support/wait.ts";
import type { BenchContext } from "./context.ts";
import type { ProfileSummary } from "./cpu-profile.ts";
import { type RelayPaths, startRelayPaths } from "./relay-paths.ts";
import { addSourceBlock } from "./topology.ts";
import { startWorker, type WorkerProcess } from "./worker-process.ts";

export interface GatewayCounts {
  established: number;
  prefixes: number;
  sessions: number;
}

export interface FleetSize {
  sessions: number;
  prefixesPerSession: number;
  holdTime: number;
}

export interface SwarmFleet {
  swarm: WorkerProcess;
  relays: RelayPaths;
  /** Polls the gateway running now every 250 ms until `ok` or `timeoutMs`. */
  waitFor(
    ok: (c: GatewayCounts) => boolean,
    timeoutMs: number,
  ): Promise<{ ok: boolean; last: GatewayCounts }>;
  /**
   * Every router connects (`concurrency` connects in flight) and announces its block; then
   * waits (up to 300 s) until the gateway shows every session Established and every prefix.
   */
  bringUp(concurrency: number): Promise<{ ok: boolean; last: GatewayCounts; seconds: number }>;
  /** Ends the routers, then stops the stack (returns its profiles) and the swarm. */
  stop(): Promise<{ process: string; summary: ProfileSummary }[]>;
}

async function gatewayCounts(gateway: GatewayProcess): Promise<GatewayCounts> {
  const list = await gateway.devices();
  return {
    established: list.filter((d) => d.state === "established").length,
    prefixes: list.reduce((sum, d) => sum + d.prefixes.ipv4 + d.prefixes.ipv6, 0),
    sessions: list.reduce((sum, d) => sum + d.sessions, 0),
  };
}

export async function startSwarmFleet(
  ctx: BenchContext,
  label: string,
  size: FleetSize,
  deviceIdBase: number,
): Promise<SwarmFleet> {
  const { topo } = ctx;
  const n = size.sessions;
  const wanted = n * size.prefixesPerSession;
  const sources = await addSourceBlock(topo, n);
  const swarm = await startWorker({ netns: topo.router.name, role: "swarm" });
  const devices = sources.map((ip, i) => ({
    name: `${label}-${i + 1}`,
    id: deviceIdBase + i,
    ip,
    target: "collector" as const,
  }));
  let relays: RelayPaths;
  try {
    relays = await startRelayPaths(ctx, label, devices, size.holdTime);
  } catch (err) {
    await swarm.stop();
    throw err;
  }
  const entrance = topo.entrance.bgproxy;
  const counts = () => gatewayCounts(relays.stack.gateway);
  const waitFor = async (ok: (c: GatewayCounts) => boolean, timeoutMs: number) => {
    let last: GatewayCounts = { established: 0, prefixes: 0, sessions: 0 };
    const probe = async () => {
      last = await counts();
      return ok(last);
    };
    const what = "the gateway's device counts";
    return waitUntil(probe, { timeoutMs, intervalMs: 250, what }).then(
      () => ({ ok: true, last }),
      (err: unknown) => {
        if (err instanceof WaitTimeoutError) return { ok: false, last };
        throw err;
      },
    );
  };
  return {
    swarm,
    relays,
    waitFor,
    async bringUp(concurrency) {
      const t0 = Date.now();
      await swarm.request(
        "connect",
        {
          host: entrance.host,
          port: entrance.port,
          sources,
          holdTime: size.holdTime,
          concurrency,
          timeoutMs: 60_000 + n * 100,
        },
        90_000 + n * 100,
      );
      await swarm.request("announce", { perSession: size.prefixesPerSession }, 120_000);
      const back = await waitFor((c) => c.established >= n && c.prefixes >= wanted, 300_000);
      return { ...back, seconds: (Date.now() - t0) / 1000 };
    },
    async stop() {
      await swarm.request("close").catch(() => undefined);
      const profiles = await relays.stop();
      await swarm.stop();
      return profiles;
    },
  };
}
