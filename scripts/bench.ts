/**
 * The benchmarks of issue 6: every scenario runs the same work through three paths in one
 * run — (a) direct TCP, (b) a socat relay, (c) bgproxy agent → gateway (TLS) — and reports
 * raw numbers and ratios.
 *
 *   bun scripts/bench.ts [--quick | --full] [--only a,b] [--profile] [--profile-dir DIR] [--paths p,q] [--bun-flags F] [--out FILE]
 *   npm run bench -- --quick
 *
 * Scenarios: convergence (full table, BIRD → BIRD), throughput (raw UPDATE bytes), scale
 * (many sessions through one agent), latency (KEEPALIVE echo), slow (a collector reading
 * at 1 MB/s), storm (all sessions of scale reconnecting at once; bgproxy only), bridge
 * (sessions bridged across a gateway kill -9 and restart; bgproxy only). --quick (the default) uses small sizes and takes a few minutes: CI runs it,
 * and it fails (exit 1) only when bgproxy's path loses prefixes or bytes, never on timing.
 * --full uses the issue's sizes and writes bench/results/<date>.md unless --out says
 * otherwise (--out - prints only). --profile runs agent and gateway under `bun --cpu-prof`
 * and adds where their time went (timings are then not comparable); --profile-dir DIR
 * also keeps the .cpuprofile files there. --paths bgproxy (convergence and slow only) runs
 * a subset of the paths, for development: ratios need all three; a path may repeat
 * (`--paths bgproxy,bgproxy`: the slow far end on a cold, then a warm agent). --bun-flags
 * "--smol" runs agent and gateway under other Bun flags than the release binary's
 * (scripts/packaging/runtime-flags.ts). --relay-tcp-buffers RMAX,WMAX caps the kernel's TCP
 * receive and send buffer autotuning (net.ipv4.tcp_rmem/tcp_wmem maxima, bytes) in the relay
 * namespace, socat and bgproxy alike: an experiment on what the path holds (DEVELOPERS.md,
 * "Data path: convergence, where the time goes (session 5)").
 *
 * Needs root (network namespaces), BIRD 2 and socat; without them it says so and exits 0
 * with "skipped". Everything runs in namespaces created here (bgpx<tag>N), removed at exit,
 * on SIGINT/SIGTERM, or by the next run's sweep; traffic never leaves them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { destroyAllNetns, setSysctl, sweepStale } from "../test/support/netns.ts";
import { run } from "../test/support/process.ts";
import { canRunNetns, netnsSkipReason } from "../test/support/root.ts";
import { makeTempDir } from "../test/support/tempdir.ts";
import type { BenchContext } from "./bench/context.ts";
import { describeTable } from "./bench/full-table.ts";
import { type BenchMode, FULL, QUICK } from "./bench/modes.ts";
import {
  failedResult,
  headlineTable,
  renderScenario,
  type ScenarioResult,
  targetTable,
} from "./bench/report.ts";
import { runBridge } from "./bench/scenario-bridge.ts";
import { runConvergence } from "./bench/scenario-convergence.ts";
import { runLatency } from "./bench/scenario-latency.ts";
import { runRib } from "./bench/scenario-rib.ts";
import { runScale } from "./bench/scenario-scale.ts";
import { runSlowFarEnd } from "./bench/scenario-slow-far-end.ts";
import { runStorm } from "./bench/scenario-storm.ts";
import { runThroughput } from "./bench/scenario-throughput.ts";
import { createBenchTopology, PATHS, type PathName } from "./bench/topology.ts";

const ROOT = resolve(import.meta.dir, "..");

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  convergence: runConvergence,
  throughput: runThroughput,
  scale: runScale,
  latency: runLatency,
  slow: runSlowFarEnd,
  storm: runStorm,
  rib: runRib,
  bridge: runBridge,
};

interface Options {
  mode: BenchMode;
  only: string[];
  profile: boolean;
  profileDir?: string;
  out?: string;
  paths?: PathName[];
  bunFlags?: string[];
  /** tcp_rmem / tcp_wmem maxima in the relay namespace (--relay-tcp-buffers). */
  relayTcpBuffers?: { rmax: number; wmax: number };
}

function usage(message: string): never {
  process.stderr.write(
    `bench: ${message}\nusage: bun scripts/bench.ts [--quick|--full] [--only ${Object.keys(SCENARIOS).join(",")}] [--profile] [--profile-dir DIR] [--paths direct,socat,bgproxy] [--bun-flags FLAGS] [--relay-tcp-buffers RMAX,WMAX] [--out FILE|-]\n`,
  );
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { mode: QUICK, only: Object.keys(SCENARIOS), profile: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag = "", inline] = (argv[i] as string).split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    switch (flag) {
      case "--quick":
        options.mode = QUICK;
        break;
      case "--full":
        options.mode = FULL;
        break;
      case "--only": {
        const names = value().split(",").filter(Boolean);
        for (const n of names) if (!SCENARIOS[n]) usage(`unknown scenario ${JSON.stringify(n)}`);
        options.only = names;
        break;
      }
      case "--profile":
        options.profile = true;
        break;
      case "--profile-dir":
        options.profile = true;
        options.profileDir = resolve(value());
        break;
      case "--out":
        options.out = value();
        break;
      case "--paths": {
        const names = value().split(",").filter(Boolean);
        for (const n of names)
          if (!(PATHS as readonly string[]).includes(n)) usage(`unknown path ${JSON.stringify(n)}`);
        options.paths = names as PathName[];
        break;
      }
      case "--bun-flags":
        options.bunFlags = value().split(/\s+/).filter(Boolean);
        break;
      case "--relay-tcp-buffers": {
        const [rmax, wmax] = value().split(",").map(Number);
        if (
          !Number.isInteger(rmax) ||
          !Number.isInteger(wmax) ||
          !rmax ||
          !wmax ||
          rmax < 4096 ||
          wmax < 4096
        )
          usage("--relay-tcp-buffers takes two byte counts of at least 4096, e.g. 524288,524288");
        options.relayTcpBuffers = { rmax: rmax as number, wmax: wmax as number };
        break;
      }
      case "-h":
      case "--help":
        usage("help");
        break;
      default:
        usage(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  return options;
}

async function firstLine(argv: string[]): Promise<string> {
  const r = await run(argv, { check: false, timeoutMs: 5000 }).catch(() => undefined);
  return `${r?.stdout ?? ""}${r?.stderr ?? ""}`.trim().split("\n")[0] ?? "?";
}

async function machine(): Promise<string[]> {
  const git = await firstLine(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]);
  const dirty = (
    await run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], {
      check: false,
    })
  ).stdout.trim();
  return [
    `- machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${await firstLine(["uname", "-srm"])}`,
    `- load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} (other jobs share this machine: compare ratios within a run)`,
    `- bgproxy ${git}${dirty ? " (with uncommitted changes)" : ""}, Bun ${Bun.version}, ${await firstLine(["bird", "--version"])}, ${await firstLine(["sh", "-c", "socat -V | grep 'socat version'"])}`,
  ];
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const command = `bun scripts/bench.ts ${process.argv.slice(2).join(" ")}`.trim();
  if (!canRunNetns) {
    console.log(`bench: skipped (${netnsSkipReason})`);
    return 0;
  }
  if (Bun.which("socat") === null) {
    console.log("bench: skipped (socat not installed)");
    return 0;
  }
  const started = Date.now();
  const removed = await sweepStale();
  if (removed.length > 0) console.log(`bench: removed stale namespaces ${removed.join(" ")}`);
  const topo = await createBenchTopology();
  const buffers = options.relayTcpBuffers;
  if (buffers) {
    await setSysctl(
      topo.proxy,
      "net.ipv4.tcp_rmem",
      `4096 ${Math.min(65536, buffers.rmax)} ${buffers.rmax}`,
    );
    await setSysctl(
      topo.proxy,
      "net.ipv4.tcp_wmem",
      `4096 ${Math.min(16384, buffers.wmax)} ${buffers.wmax}`,
    );
  }
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  const profileDir = options.profile ? (options.profileDir ?? makeTempDir("profiles")) : undefined;
  const ctx: BenchContext = {
    topo,
    mode: options.mode,
    profileDir,
    ...(options.paths ? { paths: options.paths } : {}),
    ...(options.bunFlags ? { bunFlags: options.bunFlags } : {}),
    log: (m) => console.log(m),
  };
  const header = await machine();
  if (buffers)
    header.push(
      `- relay namespace TCP buffer maxima (--relay-tcp-buffers): receive ${buffers.rmax}, send ${buffers.wmax} bytes`,
    );
  console.log(`bench: ${options.mode.name} mode, scenarios ${options.only.join(", ")}`);
  const results: ScenarioResult[] = [];
  try {
    for (const name of options.only) {
      const scenario = SCENARIOS[name] as (c: BenchContext) => Promise<ScenarioResult>;
      console.log(`bench: ${name} ...`);
      try {
        const r = await scenario(ctx);
        results.push(r);
        console.log(
          `bench: ${name} done in ${r.seconds.toFixed(0)} s${r.broken.length ? ` — BROKEN: ${r.broken.join("; ")}` : ""}`,
        );
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        console.log(`bench: ${name} failed: ${message}`);
        results.push(failedResult(name, message));
      }
    }
  } finally {
    await destroyAllNetns();
  }
  const seconds = (Date.now() - started) / 1000;
  const markdown = [
    `# Benchmarks — ${new Date().toISOString().slice(0, 10)} (${options.mode.name} mode)`,
    "",
    `Command: \`${command}\` (as root; total ${(seconds / 60).toFixed(1)} min)`,
    "",
    ...header,
    `- sizes: table ${describeTable(options.mode.convergence.table)}; throughput ${options.mode.throughput.bytes / 2 ** 20} MiB; ${options.mode.scale.sessions} sessions × ${options.mode.scale.prefixesPerSession} prefixes; ${options.mode.latency.samples} × ${options.mode.latency.rounds} pings; slow far end ${describeTable(options.mode.slow.table)} at ${options.mode.slow.rateBytesPerSec / 1e6} MB/s; bridged ${options.mode.bridge.sessions} sessions × ${options.mode.bridge.prefixesPerSession} prefixes`,
    "",
    "## Summary",
    "",
    headlineTable(results),
    "",
    "## Targets",
    "",
    targetTable(results),
    "",
    ...results.map(renderScenario),
  ].join("\n");
  const broken = results.flatMap((r) => r.broken.map((b) => `${r.id}: ${b}`));
  let out = options.out;
  if (out === undefined && options.mode.name === "full") {
    const stamp = new Date().toISOString().slice(0, 10);
    out = join(ROOT, "bench", "results", `${stamp}.md`);
  }
  if (out !== undefined && out !== "-") {
    mkdirSync(resolve(out, ".."), { recursive: true });
    writeFileSync(out, `${markdown}\n`);
    console.log(`bench: results written to ${out}`);
  } else {
    console.log(`\n${markdown}`);
  }
  console.log(
    broken.length > 0
      ? `bench: FAILED — bgproxy lost data: ${broken.join("; ")}`
      : `bench: ok (${results.length} scenarios, ${seconds.toFixed(0)} s)`,
  );
  return broken.length > 0 ? 1 : 0;
}

process.exit(await main());
