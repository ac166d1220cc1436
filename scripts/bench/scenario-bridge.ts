/**
 * Scenario 8, bridged sessions across a gateway crash (bgproxy only; issue 11's row): N
 * routers (1,000 in full mode) with route refresh, each announcing its block of prefixes
 * through one agent into the gateway's built-in collector (the storm's swarm and stack,
 * swarm-fleet.ts). The gateway is killed (SIGKILL); once the agent bridges every session
 * a new gateway starts on the same port with the same file. Measured: seconds from the new
 * gateway listening (its "gateway started" line) until its collector holds every prefix
 * again — the agent's redial, the OPEN replay and handshake, the ROUTE-REFRESH and each
 * router's whole table — router sessions lost (closed or sent a NOTIFICATION; must be 0),
 * and the agent's and the new gateway's peak RSS (sampled every 250 ms and VmHWM).
 */
import type { SwarmStatus } from "../../test/support/router-swarm.ts";
import type { BenchContext } from "./context.ts";
import { fmt, int, mb, mib } from "./figures.ts";
import { readProc, resetPeak, Sampler } from "./proc-stats.ts";
import { emptyResult, type ScenarioResult } from "./report.ts";
import { startSwarmFleet } from "./swarm-fleet.ts";

interface AgentStatus {
  bridging: number;
  bridged: number;
  resumed: number;
}

export async function runBridge(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const cfg = ctx.mode.bridge;
  const n = cfg.sessions;
  const wanted = n * cfg.prefixesPerSession;
  const result = emptyResult(
    "bridge",
    `8. Bridged sessions across a gateway kill -9 and restart (${int(n)} sessions × ${int(cfg.prefixesPerSession)} prefixes)`,
  );
  const fleet = await startSwarmFleet(ctx, "bridge", cfg, 40_000);
  const { swarm, relays, waitFor } = fleet;
  const agent = relays.stack.agent;
  const agentStatus = () =>
    agent.request("status") as Promise<AgentStatus & Record<string, unknown>>;
  const swarmStatus = () =>
    swarm.request("status") as Promise<SwarmStatus & Record<string, unknown>>;
  try {
    const first = await fleet.bringUp(64);
    if (!first.ok) {
      result.broken.push(`before the kill: ${JSON.stringify(first.last)} of ${n} sessions`);
      return result;
    }
    const agentBefore = readProc(relays.agentPid)?.rss ?? 0;
    const gwBefore = readProc(relays.gatewayPid)?.rss ?? 0;
    resetPeak(relays.agentPid);
    const sampler = new Sampler({ agent: () => readProc(relays.agentPid)?.rss }, 250).start();
    const killedAt = Date.now();
    await relays.stack.killGateway();
    let bridging = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await Bun.sleep(100)) {
      bridging = (await agentStatus()).bridging;
      if (bridging >= n) break;
    }
    const allBridgedMs = Date.now() - killedAt;
    const gateway = await relays.stack.startGatewayAgain();
    const gwPid = relays.gatewayPid;
    const gwSampler = new Sampler({ gateway: () => readProc(gwPid)?.rss }, 250).start();
    const listenedAt = Date.parse(String(gateway.find("gateway started")[0]?.time));
    const back = await waitFor((c) => c.established >= n && c.prefixes >= wanted, 300_000);
    const seconds = (Date.now() - listenedAt) / 1000;
    const outage = (Date.now() - killedAt) / 1000;
    const agentPeak = Math.max(
      (await sampler.stop()).agent?.peak ?? 0,
      readProc(relays.agentPid)?.hwm ?? 0,
    );
    const gwPeak = Math.max((await gwSampler.stop()).gateway?.peak ?? 0, readProc(gwPid)?.hwm ?? 0);
    const routers = await swarmStatus();
    const after = await agentStatus();
    const lost = n - routers.established;
    if (bridging < n) result.broken.push(`only ${bridging} of ${n} sessions were bridged`);
    if (lost > 0 || routers.notificationsIn > 0) {
      result.broken.push(
        `${lost} router sessions lost, ${routers.notificationsIn} NOTIFICATIONs (${routers.errors.join("; ")})`,
      );
    }
    if (!back.ok) {
      result.broken.push(
        `the new gateway got ${back.last.established} of ${n} sessions and ${int(back.last.prefixes)} of ${int(wanted)} prefixes`,
      );
    }
    ctx.log(
      `  bridge: ${bridging} sessions bridged ${fmt(allBridgedMs / 1000, 1)} s after the kill; ${int(back.last.prefixes)} prefixes back ${fmt(seconds, 1)} s after the new gateway listened; ${lost} router sessions lost; ${routers.routeRefreshesIn} ROUTE-REFRESHes`,
    );
    result.tables.push({
      caption: `${int(n)} scripted routers (route refresh, hold time ${cfg.holdTime} s) through one agent into the built-in collector; the gateway killed with SIGKILL, a new one started on the same port once every session was bridging. "Back after": from the new gateway's "gateway started" line until its /api/devices shows every session Established and all ${int(wanted)} prefixes (polled every 250 ms). Peaks: agent from the kill, gateway from its start.`,
      head: [
        "bridged sessions",
        "all bridging after the kill",
        "back after",
        "kill → all back",
        "router sessions lost",
        "ROUTE-REFRESH answered",
        "agent RSS before",
        "agent peak",
        "gateway RSS before",
        "new gateway peak",
      ],
      rows: [
        [
          `${int(after.bridged)} (${int(after.resumed)} resumed)`,
          `${fmt(allBridgedMs / 1000, 1)} s`,
          `${fmt(seconds, 1)} s`,
          `${fmt(outage, 1)} s`,
          int(lost),
          int(routers.routeRefreshesIn),
          mib(agentBefore),
          mib(agentPeak),
          mib(gwBefore),
          mib(gwPeak),
        ],
      ],
    });
    result.headlines.push({
      scenario: "8. bridged sessions",
      metric: `${int(n)} sessions × ${int(cfg.prefixesPerSession)} prefixes, gateway kill -9 + restart: full table back; router sessions lost`,
      direct: "—",
      socat: "—",
      bgproxy: `${fmt(seconds, 1)} s; ${lost} lost`,
      ratios: "",
    });
    result.targets.push(
      {
        target: "gateway kill -9 and restart: no router session lost (every session bridged)",
        measured: `${int(lost)} of ${int(n)} lost`,
        met: lost === 0 && routers.notificationsIn === 0 && bridging >= n,
      },
      {
        target:
          "gateway back → far end holding the full table again (no target yet; the agent redials after 250 ms doubling to 5 s)",
        measured: `${fmt(seconds, 1)} s`,
        met: undefined,
        comment: `agent peak ${mb(agentPeak)}, new gateway peak ${mb(gwPeak)}`,
      },
    );
  } finally {
    result.profiles = await fleet.stop();
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
