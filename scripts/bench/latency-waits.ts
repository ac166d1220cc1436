/**
 * Where the KEEPALIVE round trips through bgproxy wait for a CPU, counted rather than timed
 * (a count holds on a shared machine where tail milliseconds do not):
 *
 *   bun scripts/bench/latency-waits.ts [--pings 2000] [--min-ms 0.5] [--bun-flags "..."]
 *
 * Root and `perf` needed (Debian package linux-perf; a manual tool: no test or benchmark run
 * needs it, so it is not in scripts/apt-packages.txt, and the tool says so when it is missing
 * or when `perf sched record` fails). Sets up the latency scenario's path (pinger in R, echo in C, agent
 * and gateway in P), sends one round of pings to warm up, then a second one under `perf
 * sched record`, and lists the run-queue waits of the four processes' main threads (woken or
 * preempted, not yet running) of at least --min-ms, by what the CPU they were queued on ran
 * meanwhile. DEVELOPERS.md, "Data path: KEEPALIVE tail (session 5)", has its figures.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { destroyAllNetns, sweepStale } from "../../test/support/netns.ts";
import { run } from "../../test/support/process.ts";
import { canRunNetns, netnsSkipReason } from "../../test/support/root.ts";
import type { BenchContext } from "./context.ts";
import { fmt, percentile } from "./figures.ts";
import { FULL } from "./modes.ts";
import { startRelayPaths } from "./relay-paths.ts";
import { startLatencyEnds } from "./scenario-latency.ts";
import { mainHolder, parseSchedScript, runQueueWaits, threadNames } from "./sched-waits.ts";
import { createBenchTopology } from "./topology.ts";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** Said when `perf` is not installed, before anything is set up. */
const PERF_MISSING =
  "latency-waits: needs perf, which is not installed (Debian package linux-perf: apt-get install linux-perf)";

async function main(): Promise<number> {
  if (Bun.which("perf") === null) {
    console.error(PERF_MISSING);
    return 2;
  }
  if (!canRunNetns) {
    console.log(`latency-waits: skipped (${netnsSkipReason})`);
    return 0;
  }
  const pings = Number(option("--pings", "2000"));
  const minMs = Number(option("--min-ms", "0.5"));
  const bunFlags = option("--bun-flags", "").split(" ").filter(Boolean);
  await sweepStale();
  const topo = await createBenchTopology();
  const ctx: BenchContext = {
    topo,
    mode: FULL,
    log: (m) => console.log(m),
    ...(bunFlags.length > 0 ? { bunFlags } : {}),
  };
  const { echo, ping } = await startLatencyEnds(topo);
  const relays = await startRelayPaths(ctx, "latency");
  const pids = {
    agent: relays.agentPid,
    gateway: relays.gatewayPid,
    echo: echo.pid,
    ping: ping.pid,
  };
  const round = async () => {
    const r = await ping.request<{ samples: number[] }>(
      "run",
      { ...topo.entrance.bgproxy, count: pings, intervalMs: 2 },
      60_000 + pings * 50,
    );
    return r.samples;
  };
  const data = join(topo.dir, "sched.data");
  try {
    await round(); // warm-up: JIT and first use
    const perf = Bun.spawn(["perf", "sched", "record", "-a", "-o", data], {
      stdout: "ignore",
      stderr: "pipe",
    });
    await Bun.sleep(500);
    if (perf.exitCode !== null) {
      // perf refused (no tracepoints, not permitted): say why instead of tracing nothing.
      const why = (await new Response(perf.stderr).text()).trim();
      console.error(`latency-waits: perf sched record exited with ${perf.exitCode}: ${why}`);
      return 1;
    }
    const samples = await round();
    perf.kill("SIGINT");
    await perf.exited;
    const script = await run(
      ["perf", "script", "-i", data, "-F", "comm,pid,tid,cpu,time,event,trace"],
      { timeoutMs: 120_000 },
    );
    const events = parseSchedScript(script.stdout);
    const names = threadNames(events);
    const role = new Map<number, string>(Object.entries(pids).map(([k, v]) => [v, k]));
    const label = (tid: number): string => {
      if (tid === 0) return "(idle)";
      const t = names.get(tid);
      const owner = t ? role.get(t.pid) : undefined;
      if (!owner) return `other: ${t?.comm ?? tid}`;
      return `${owner}: ${tid === t?.pid ? "main thread" : t?.comm}`;
    };
    const waits = runQueueWaits(events, new Set(Object.values(pids)), minMs);
    const by = new Map<string, { n: number; ms: number }>();
    for (const w of waits) {
      const k = label(mainHolder(w));
      const e = by.get(k) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += (w.end - w.start) * 1000;
      by.set(k, e);
    }
    const q = (p: number) => fmt(percentile(samples, p) / 1000, 3);
    console.log(
      `${samples.length} pings through bgproxy: p50 ${q(50)} p90 ${q(90)} p99 ${q(99)} max ${q(100)} ms (load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]})`,
    );
    console.log(
      `${waits.length} waits of >= ${minMs} ms of the main threads of agent, gateway, echo and pinger; the CPU they were queued on ran mostly:`,
    );
    for (const [k, v] of [...by].sort((a, b) => b[1].n - a[1].n))
      console.log(`  ${String(v.n).padStart(5)}  ${fmt(v.ms, 1).padStart(8)} ms  ${k}`);
    return 0;
  } finally {
    await relays.stop();
    await ping.stop();
    await echo.stop();
    await destroyAllNetns();
  }
}

process.exit(await main());
