/**
 * Scenario 4, added latency: a KEEPALIVE sent by a pinger in R, answered at once by an echo
 * in C, timed end to end, one at a time, through each path. Reports p50/p90/p99 per path and
 * what bgproxy adds over direct TCP at p50 and p99.
 */
import type { BenchContext } from "./context.ts";
import { fmt, percentile } from "./figures.ts";
import { startRelayPaths } from "./relay-paths.ts";
import { emptyResult, type ScenarioResult } from "./report.ts";
import { PATH_LABEL, PATHS, type PathName } from "./topology.ts";
import { startWorker, type WorkerProcess } from "./worker-process.ts";

/** Target: p99 added by bgproxy. */
const TARGET_P99_ADDED_MS = 2;

/** The scenario's two ends: the echo in C, the pinger in R (also latency-waits.ts's). */
export async function startLatencyEnds(
  topo: BenchContext["topo"],
): Promise<{ echo: WorkerProcess; ping: WorkerProcess }> {
  const echo = await startWorker({
    netns: topo.collector.name,
    role: "echo",
    args: { listen: [{ host: "0.0.0.0", port: 179 }] },
  });
  const ping = await startWorker({ netns: topo.router.name, role: "ping" });
  return { echo, ping };
}

export async function runLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { topo, mode } = ctx;
  const cfg = mode.latency;
  const result = emptyResult("latency", "4. Added latency (KEEPALIVE echo)");
  const { echo, ping } = await startLatencyEnds(topo);
  const relays = await startRelayPaths(ctx, "latency");
  const samples: Record<PathName, number[]> = { direct: [], socat: [], bgproxy: [] };
  /** Without each session's first 10 %: the code paths of a fresh session are still cold. */
  const steady: Record<PathName, number[]> = { direct: [], socat: [], bgproxy: [] };
  try {
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const path of PATHS) {
        try {
          const r = await ping.request<{ samples: number[] }>(
            "run",
            { ...topo.entrance[path], count: cfg.samples, intervalMs: cfg.intervalMs },
            60_000 + cfg.samples * 50,
          );
          samples[path].push(...r.samples);
          steady[path].push(...r.samples.slice(Math.floor(r.samples.length / 10)));
          ctx.log(
            `  latency ${path} round ${round}: p50 ${fmt(percentile(r.samples, 50) / 1000, 3)} ms, p99 ${fmt(percentile(r.samples, 99) / 1000, 3)} ms`,
          );
        } catch (err) {
          const text = `${PATH_LABEL[path]}: ${(err as Error).message.split("\n")[0]}`;
          if (path === "bgproxy") result.broken.push(text);
          else result.warnings.push(text);
        }
        await Bun.sleep(500);
      }
    }
  } finally {
    result.profiles = await relays.stop();
    await ping.stop();
    await echo.stop();
  }
  const p = (path: PathName, q: number) => percentile(samples[path], q) / 1000;
  const ps = (path: PathName, q: number) => percentile(steady[path], q) / 1000;
  result.tables.push({
    caption: `KEEPALIVE round trips (${cfg.samples} × ${cfg.rounds} per path, ${cfg.intervalMs} ms apart), ms:`,
    head: [
      "path",
      "samples",
      "p50",
      "p90",
      "p99",
      "max",
      "p50 added vs direct",
      "p99 added vs direct",
      "p99 without each session's first 10 %",
    ],
    rows: PATHS.map((path) => [
      PATH_LABEL[path],
      String(samples[path].length),
      fmt(p(path, 50), 3),
      fmt(p(path, 90), 3),
      fmt(p(path, 99), 3),
      fmt(p(path, 100), 3),
      path === "direct" ? "" : fmt(p(path, 50) - p("direct", 50), 3),
      path === "direct" ? "" : fmt(p(path, 99) - p("direct", 99), 3),
      fmt(ps(path, 99), 3),
    ]),
  });
  const added99 = p("bgproxy", 99) - p("direct", 99);
  result.headlines.push({
    scenario: "4. latency",
    metric: "KEEPALIVE RTT p50 / p99, ms",
    direct: `${fmt(p("direct", 50), 3)} / ${fmt(p("direct", 99), 3)}`,
    socat: `${fmt(p("socat", 50), 3)} / ${fmt(p("socat", 99), 3)}`,
    bgproxy: `${fmt(p("bgproxy", 50), 3)} / ${fmt(p("bgproxy", 99), 3)}`,
    ratios: `added by bgproxy: p50 ${fmt(p("bgproxy", 50) - p("direct", 50), 3)} ms, p99 ${fmt(added99, 3)} ms`,
  });
  result.targets.push({
    target: `added KEEPALIVE latency p99 < ${TARGET_P99_ADDED_MS} ms`,
    measured: `${fmt(added99, 3)} ms`,
    met: Number.isFinite(added99) ? added99 < TARGET_P99_ADDED_MS : undefined,
    comment:
      Number.isFinite(added99) && added99 >= TARGET_P99_ADDED_MS
        ? `missed by ${fmt(added99 - TARGET_P99_ADDED_MS, 3)} ms`
        : undefined,
  });
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
