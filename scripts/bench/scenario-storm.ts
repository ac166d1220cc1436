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
import { emptyResult, type ScenarioResult } from "./report.ts";
import { startSwarmFleet } from "./swarm-fleet.ts";

export async function runStorm(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { mode } = ctx;
  const cfg = mode.scale;
  const n = cfg.sessions;
  const wanted = n * cfg.prefixesPerSession;
  const result = emptyResult(
    "storm",
    `7. Restart storm (${n} sessions reconnecting at once, ${int(cfg.prefixesPerSession)} prefixes each)`,
  );
  const fleet = await startSwarmFleet(ctx, "storm", cfg, 20_000);
  const { swarm, relays, waitFor, bringUp } = fleet;
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
    result.profiles = await fleet.stop();
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
