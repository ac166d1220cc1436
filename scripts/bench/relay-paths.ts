/**
 * The two relays of paths (b) and (c), set up the same way for every scenario whose far end
 * sits on C's pc address, port 179: socat forwarding there, and bgproxy with one device
 * (the router's rp address) forwarded there from the gateway's pc address. Also reads their
 * CPU and memory, and summarises their profiles after `stop` when profiling.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { GatewayDevice } from "../../test/support/bgproxy-process.ts";
import { type BgproxyStack, startBgproxyStack } from "./bgproxy-stack.ts";
import type { BenchContext } from "./context.ts";
import { type ProfileSummary, summarizeProfile } from "./cpu-profile.ts";
import { readProc, SuccessiveCpu } from "./proc-stats.ts";
import { type SocatRelay, startSocat } from "./socat-relay.ts";
import { BGP_PORT } from "./topology.ts";

export interface RelayCpu {
  agent: number;
  gateway: number;
  socat: number;
  /** The kernel's part of agent and gateway CPU (syscalls, page faults). */
  agentSys: number;
  gatewaySys: number;
}

export interface RelayPaths {
  socat: SocatRelay;
  stack: BgproxyStack;
  agentPid: number;
  /** The gateway running now (a new pid after `stack.startGatewayAgain`). */
  readonly gatewayPid: number;
  cpu(): RelayCpu;
  stop(): Promise<{ process: string; summary: ProfileSummary }[]>;
}

/** The single forwarded device of the raw scenarios. */
export function forwardDevice(ctx: BenchContext): GatewayDevice {
  const { topo } = ctx;
  return {
    name: "bench-router",
    id: 1001,
    ip: topo.rp.a.ipv4,
    target: "forward",
    forward: `${topo.pc.b.ipv4}:${BGP_PORT}`,
    forwardSource: topo.pc.a.ipv4,
  };
}

export async function startRelayPaths(
  ctx: BenchContext,
  label: string,
  devices: readonly GatewayDevice[] = [forwardDevice(ctx)],
  holdTime?: number,
): Promise<RelayPaths> {
  const { topo } = ctx;
  const socat = await startSocat(topo, topo.pc.b.ipv4);
  let stack: BgproxyStack;
  try {
    stack = await startBgproxyStack({
      netns: topo.proxy,
      dir: topo.dir,
      devices,
      agentListen: [`${topo.rp.b.ipv4}:${BGP_PORT}`],
      holdTime,
      profileDir: ctx.profileDir,
      ...(ctx.bunFlags ? { bunFlags: ctx.bunFlags } : {}),
      label: `-${label}`,
    });
  } catch (err) {
    await socat.stop();
    throw err;
  }
  const agentPid = stack.agent.pid;
  const gatewayPid = () => stack.gateway.process.pid;
  // Across a gateway restart: the new gateway's CPU plus the old one's as last read.
  const gatewayCpu = new SuccessiveCpu(gatewayPid);
  gatewayCpu.read();
  return {
    socat,
    stack,
    agentPid,
    get gatewayPid() {
      return gatewayPid();
    },
    cpu: () => {
      const a = readProc(agentPid);
      const g = gatewayCpu.read();
      return {
        agent: a?.cpu ?? Number.NaN,
        gateway: g.cpu,
        socat: socat.cpu(),
        agentSys: a?.sys ?? Number.NaN,
        gatewaySys: g.sys,
      };
    },
    async stop() {
      await stack.stop();
      await socat.stop();
      const out: { process: string; summary: ProfileSummary }[] = [];
      if (!ctx.profileDir) return out;
      for (const proc of ["agent", "gateway"]) {
        const file = join(ctx.profileDir, `${proc}-${label}.cpuprofile`);
        if (existsSync(file))
          out.push({ process: `${proc} (${label})`, summary: summarizeProfile(file) });
      }
      return out;
    },
  };
}

export function cpuDelta(a: RelayCpu, b: RelayCpu): RelayCpu {
  return {
    agent: b.agent - a.agent,
    gateway: b.gateway - a.gateway,
    socat: b.socat - a.socat,
    agentSys: b.agentSys - a.agentSys,
    gatewaySys: b.gatewaySys - a.gatewaySys,
  };
}
