/**
 * Scenario 7, restart storm (bgproxy only): N sessions (1,000 in full mode) through one
 * agent into the gateway's built-in collector, each holding its block of prefixes; then
 * every router drops its session and all reconnect at once (as after an agent or a site
 * restart) and announce their prefixes again. Measured: seconds from the reconnect until
 * the gateway shows every session Established and every prefix back, and the gateway's
 * and agent's peak RSS during the storm (sampled every 250 ms and VmHWM, reset before).
 */
import type { BenchContext } from "./context.ts";
import { fmt, int, MB, mb, mib } from "./figures.ts";
import { readProc, resetPeak, Sampler } from "./proc-stats.ts";
import { startRelayPaths } from "./relay-paths.ts";
import type { ScenarioResult } from "./report.ts";
import { addSourceBlock } from "./topology.ts";
import { startWorker } from "./worker-process.ts";

interface GatewayCounts {
  established: number;
  prefixes: number;
  sessions: number;
}

export async function runStorm(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { topo, mode } = ctx;
  const cfg = mode.scale;
  const n = cfg.sessions;
  const wanted = n * cfg.prefixesPerSession;
  const result: ScenarioResult = {
    id: "storm",
    title: `7. Restart storm (${n} sessions reconnecting at once, ${int(cfg.prefixesPerSession)} prefixes each)`,
    broken: [],
    warnings: [],
    tables: [],
    headlines: [],
    targets: [],
    notes: [],
    seconds: 0,
  };
  const sources = await addSourceBlock(topo, n);
  const swarm = await startWorker({ netns: topo.router.name, role: "swarm" });
  const devices = sources.map((ip, i) => ({
    name: `storm-${i + 1}`,
    id: 20_000 + i,
    ip,
    target: "collector" as const,
  }));
  const relays = await startRelayPaths(ctx, "storm", devices, cfg.holdTime);
  const entrance = topo.entrance.bgproxy;
  const counts = async (): Promise<GatewayCounts> => {
    const list = await relays.stack.gateway.devices();
    return {
      established: list.filter((d) => d.state === "established").length,
      prefixes: list.reduce((sum, d) => sum + d.prefixes.ipv4 + d.prefixes.ipv6, 0),
      sessions: list.reduce((sum, d) => sum + d.sessions, 0),
    };
  };
  const waitFor = async (ok: (c: GatewayCounts) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let last: GatewayCounts = { established: 0, prefixes: 0, sessions: 0 };
    while (Date.now() < deadline) {
      last = await counts().catch(() => last);
      if (ok(last)) return { ok: true, last };
      await Bun.sleep(250);
    }
    return { ok: false, last };
  };
  const bringUp = async (concurrency: number) => {
    const t0 = Date.now();
    await swarm.request(
      "connect",
      {
        host: entrance.host,
        port: entrance.port,
        sources,
        holdTime: cfg.holdTime,
        concurrency,
        timeoutMs: 60_000 + n * 100,
      },
      90_000 + n * 100,
    );
    await swarm.request("announce", { perSession: cfg.prefixesPerSession }, 120_000);
    const back = await waitFor((c) => c.established >= n && c.prefixes >= wanted, 300_000);
    return { ...back, seconds: (Date.now() - t0) / 1000 };
  };

  try {
    const first = await bringUp(64);
    if (!first.ok) {
      result.broken.push(`before the storm: ${JSON.stringify(first.last)} of ${n} sessions`);
      return result;
    }
    const gwBefore = readProc(relays.gatewayPid)?.rss ?? 0;
    const agentBefore = readProc(relays.agentPid)?.rss ?? 0;
    await swarm.request("close", {}, 30_000);
    await waitFor((c) => c.sessions === 0 && c.established === 0, 60_000);
    resetPeak(relays.gatewayPid);
    resetPeak(relays.agentPid);
    const sampler = new Sampler(
      {
        gateway: () => readProc(relays.gatewayPid)?.rss,
        agent: () => readProc(relays.agentPid)?.rss,
      },
      250,
    ).start();
    const storm = await bringUp(n);
    const peaks = await sampler.stop();
    const gwPeak = Math.max(peaks.gateway?.peak ?? 0, readProc(relays.gatewayPid)?.hwm ?? 0);
    const agentPeak = Math.max(peaks.agent?.peak ?? 0, readProc(relays.agentPid)?.hwm ?? 0);
    if (!storm.ok) {
      result.broken.push(
        `after the storm only ${storm.last.established} of ${n} sessions and ${int(storm.last.prefixes)} of ${int(wanted)} prefixes came back`,
      );
    }
    ctx.log(
      `  storm: ${n} sessions and ${int(storm.last.prefixes)} prefixes back in ${fmt(storm.seconds, 1)} s (first start ${fmt(first.seconds, 1)} s); gateway peak ${mib(gwPeak)}`,
    );
    result.tables.push({
      caption: `${n} sessions through one agent (--multi 10) into the built-in collector. "First start": connects paced 64 at a time; "storm": every router drops its session, then all ${n} reconnect at once and announce again. Seconds until the gateway's /api/devices shows every session Established and every prefix (polled every 250 ms):`,
      head: [
        "first start",
        "storm: all back after",
        "prefixes/s",
        "gateway RSS before",
        "gateway peak",
        "agent RSS before",
        "agent peak",
      ],
      rows: [
        [
          `${fmt(first.seconds, 1)} s`,
          `${fmt(storm.seconds, 1)} s`,
          int(storm.last.prefixes / storm.seconds),
          mib(gwBefore),
          mib(gwPeak),
          mib(agentBefore),
          mib(agentPeak),
        ],
      ],
    });
    result.headlines.push({
      scenario: "7. restart storm",
      metric: `${n} sessions × ${int(cfg.prefixesPerSession)} prefixes reconnecting at once: all back; gateway peak RSS`,
      direct: "—",
      socat: "—",
      bgproxy: `${fmt(storm.seconds, 1)} s; ${mib(gwPeak)}`,
      ratios: "",
    });
    result.targets.push({
      target: "restart storm: gateway peak RSS (no target yet; 1,000 routers' RSS budget)",
      measured: `${mb(gwPeak)} (agent ${mb(agentPeak)})`,
      met: undefined,
      comment: `all back after ${fmt(storm.seconds, 1)} s; agent under 150 MB: ${agentPeak < 150 * MB ? "yes" : "no"}`,
    });
  } finally {
    await swarm.request("close").catch(() => undefined);
    result.profiles = await relays.stop();
    await swarm.stop();
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
