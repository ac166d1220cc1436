/**
 * Scenario 5, slow far end: the table's UPDATEs (the full table in full mode) pushed from R
 * as fast as each path takes them, to a collector in C that reads 1 MB/s. Backpressure must
 * reach the router: the relays' memory has to stay flat while the burst drains. Sampled
 * every 250 ms: agent and gateway RSS (plus VmHWM, reset at the start), the agent's
 * buffered bytes (RunningAgent.status()), socat's PSS.
 */
import type { BenchContext } from "./context.ts";
import { ROUTER_ASN } from "./context.ts";
import { fmt, int, MB, mb, mib } from "./figures.ts";
import { describeTable } from "./full-table.ts";
import { readProc, resetPeak, Sampler } from "./proc-stats.ts";
import { type RelayPaths, startRelayPaths } from "./relay-paths.ts";
import { emptyResult, type ScenarioResult } from "./report.ts";
import { PATH_LABEL, PATHS, type PathName } from "./topology.ts";
import { startWorker, type WorkerProcess } from "./worker-process.ts";

/** Target: the growth of each relay process, agent and gateway (issue 9). */
const TARGET_GROWTH = 16 * MB;

interface Run {
  path: PathName;
  bytes: number;
  seconds: number;
  agentRss0: number;
  agentPeak: number;
  gatewayRss0: number;
  gatewayPeak: number;
  /** RssFile after the run − before: pages of the executable touched for the first time. */
  agentFileGrowth: number;
  gatewayFileGrowth: number;
  agentBufferedPeak: number;
  socatPss0: number;
  socatPssPeak: number;
  /** Seconds from the collector's first UPDATE until the router had written its last byte. */
  routerDone: number;
  /** Bytes somewhere between router and collector at that moment (sent − read at the rate). */
  heldInPath: number;
  agentRssAtRouterDone: number;
  gatewayRssAtRouterDone: number;
}

/** A bgp-sink worker in C on port 179, reading no faster than `rate` (as fast as it can if absent). */
function startSink(ctx: BenchContext, rate?: number) {
  return startWorker({
    netns: ctx.topo.collector.name,
    role: "sink",
    args: { listen: [{ host: "0.0.0.0", port: 179 }], rateBytesPerSec: rate },
  });
}

/**
 * One path's run: the pump sends the table through `path` to the sink, agent and gateway
 * sampled meanwhile. undefined (with a note) when the table did not arrive whole.
 */
async function measure(
  ctx: BenchContext,
  result: ScenarioResult,
  path: PathName,
  io: {
    relays: RelayPaths;
    sink: WorkerProcess;
    pump: WorkerProcess;
    tableBytes: number;
    rate?: number;
  },
): Promise<Run | undefined> {
  const { topo } = ctx;
  const { relays, sink, pump, tableBytes, rate } = io;
  sink.clearEvents();
  await Bun.sleep(1000);
  resetPeak(relays.agentPid);
  resetPeak(relays.gatewayPid);
  const agent0 = readProc(relays.agentPid);
  const gateway0 = readProc(relays.gatewayPid);
  const socatPss0 = relays.socat.pss();
  const sampler = new Sampler(
    {
      agentRss: () => readProc(relays.agentPid)?.rss,
      gatewayRss: () => readProc(relays.gatewayPid)?.rss,
      agentBuffered: async () =>
        Number((await relays.stack.agent.request("status", {}, 2000)).bufferedBytes),
      socatPss: () => (path === "socat" ? relays.socat.pss() : undefined),
    },
    250,
  ).start();
  const timeoutMs = 120_000 + (rate ? (tableBytes / rate) * 3000 : 0);
  let sent: Record<string, unknown> | undefined;
  let atRouterDone = { agent: Number.NaN, gateway: Number.NaN };
  try {
    sent = await pump.request(
      "run",
      { ...topo.entrance[path], bytes: tableBytes, timeoutMs },
      timeoutMs,
    );
    atRouterDone = {
      agent: readProc(relays.agentPid)?.rss ?? Number.NaN,
      gateway: readProc(relays.gatewayPid)?.rss ?? Number.NaN,
    };
  } catch (err) {
    note(result, path, `pump failed: ${(err as Error).message.split("\n")[0]}`);
  }
  const closed = sent
    ? await sink
        .waitEvent("closed", timeoutMs, (m) =>
          String(m.remote).startsWith(`${topo.farSource[path]}:`),
        )
        .catch((err: Error) => ({ error: err.message.split("\n")[0] }) as Record<string, unknown>)
    : undefined;
  const peaks = await sampler.stop();
  const agent1 = readProc(relays.agentPid);
  const gateway1 = readProc(relays.gatewayPid);
  // Data streams the gateway relayed without its HTTP/2 read gate (a lapse seen again
  // then says whether the gate was on).
  const gatesMissed = await relays.stack.gateway
    .apiText("/metrics")
    .then((text) => /^bgproxy_gateway_read_gates_missed_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1])
    .catch(() => undefined);
  if (!sent || !closed) return undefined;
  if (closed.error || Number(closed.updates) !== Number(sent.messages)) {
    note(
      result,
      path,
      `${int(Number(closed.updates ?? 0))} of ${int(Number(sent.messages))} UPDATEs arrived${closed.error ? ` (${closed.error})` : ""}`,
    );
    return undefined;
  }
  const run: Run = {
    path,
    bytes: Number(sent.sent),
    seconds: (Number(closed.lastByteAt) - Number(closed.firstUpdateAt)) / 1000,
    agentRss0: agent0?.rss ?? Number.NaN,
    agentPeak: Math.max(peaks.agentRss?.peak ?? 0, agent1?.hwm ?? 0),
    gatewayRss0: gateway0?.rss ?? Number.NaN,
    gatewayPeak: Math.max(peaks.gatewayRss?.peak ?? 0, gateway1?.hwm ?? 0),
    agentFileGrowth: (agent1?.rssFile ?? Number.NaN) - (agent0?.rssFile ?? Number.NaN),
    gatewayFileGrowth: (gateway1?.rssFile ?? Number.NaN) - (gateway0?.rssFile ?? Number.NaN),
    agentBufferedPeak: peaks.agentBuffered?.peak ?? Number.NaN,
    socatPss0,
    socatPssPeak: peaks.socatPss?.peak ?? Number.NaN,
    routerDone: (Number(sent.writtenAt) - Number(closed.firstUpdateAt)) / 1000,
    heldInPath: 0,
    agentRssAtRouterDone: atRouterDone.agent,
    gatewayRssAtRouterDone: atRouterDone.gateway,
  };
  run.heldInPath = rate ? Math.max(0, run.bytes - run.routerDone * rate) : 0;
  ctx.log(
    `  slow ${path}${rate ? "" : " (far end at full speed)"}: ${fmt(run.seconds, 1)} s, router done after ${fmt(run.routerDone, 1)} s (${mib(run.heldInPath)} in the path); agent RSS +${mib(run.agentPeak - run.agentRss0)}, gateway +${mib(run.gatewayPeak - run.gatewayRss0)} (file-backed +${mib(run.gatewayFileGrowth)}), agent buffered peak ${mib(run.agentBufferedPeak, 2)}, gateway read gates missed ${gatesMissed ?? "?"}`,
  );
  return run;
}

export async function runSlowFarEnd(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { topo, mode } = ctx;
  const cfg = mode.slow;
  const result = emptyResult("slow", "5. Slow far end (collector reading 1 MB/s)");
  let sink = await startSink(ctx, cfg.rateBytesPerSec);
  ctx.log(`  slow: encoding ${describeTable(cfg.table)} as UPDATEs ...`);
  const pump = await startWorker(
    {
      netns: topo.router.name,
      role: "pump",
      args: {
        table: cfg.table,
        routerAsn: ROUTER_ASN,
        nextHop4: topo.rp.a.ipv4,
        nextHop6: topo.rp.a.ipv6,
      },
    },
    300_000,
  );
  const ready = await pump.waitEvent("ready", 1000);
  const tableBytes = Number(ready.blockBytes);
  const runs: Run[] = [];
  let control: Run | undefined;
  try {
    const relays = await startRelayPaths(ctx, "slow");
    try {
      for (const path of ctx.paths ?? PATHS) {
        const run = await measure(ctx, result, path, {
          relays,
          sink,
          pump,
          tableBytes,
          rate: cfg.rateBytesPerSec,
        });
        if (run) runs.push(run);
      }
    } finally {
      result.profiles = await relays.stop();
    }
    // The control: the same table through fresh relays into a far end reading at full speed.
    // What the cold processes grow by there is the cost of a first table, not of a slow far end.
    if (runs.some((r) => r.path === "bgproxy")) {
      await sink.stop();
      sink = await startSink(ctx);
      const fresh = await startRelayPaths(ctx, "slow-control");
      try {
        control = await measure(ctx, result, "bgproxy", { relays: fresh, sink, pump, tableBytes });
      } finally {
        await fresh.stop();
      }
    }
  } finally {
    await pump.stop();
    await sink.stop();
  }
  const growth = (peak: number, base: number) => peak - base;
  const row = (r: Run, label: string) => [
    label,
    fmt(r.seconds, 1),
    `${fmt(r.routerDone, 1)} s`,
    mib(r.heldInPath),
    mib(r.agentRss0),
    mib(r.agentPeak),
    mib(growth(r.agentPeak, r.agentRss0)),
    r.path === "bgproxy" ? mib(r.agentFileGrowth) : "",
    mib(r.agentBufferedPeak, 2),
    mib(r.gatewayRss0),
    mib(r.gatewayPeak),
    mib(growth(r.gatewayPeak, r.gatewayRss0)),
    r.path === "bgproxy" ? mib(r.gatewayFileGrowth) : "",
    r.path === "socat" ? mib(r.socatPssPeak, 2) : "",
  ];
  result.tables.push({
    caption: `${describeTable(cfg.table)} as UPDATEs (${mib(tableBytes)}) into a collector reading ${fmt(cfg.rateBytesPerSec / MB, 1)} MB/s. Peak = max(sampled RSS, VmHWM since the run began); growth = peak − RSS before the run; of it file-backed = RssFile after − before (pages of the executable touched for the first time). Agent and gateway exist on every path; only (c) loads them. The last row is the control: the same table through a fresh agent and gateway into a collector reading as fast as it can:`,
    head: [
      "path",
      "seconds",
      "router done after",
      "held in the path then",
      "agent RSS before",
      "agent peak",
      "agent growth",
      "of it file-backed",
      "agent buffered peak",
      "gateway RSS before",
      "gateway peak",
      "gateway growth",
      "of it file-backed",
      "socat PSS peak",
    ],
    rows: [
      ...runs.map((r) => row(r, PATH_LABEL[r.path])),
      ...(control ? [row(control, `${PATH_LABEL.bgproxy}, far end at full speed`)] : []),
    ],
  });
  const c = runs.find((r) => r.path === "bgproxy");
  result.notes.push(
    '"Router done after": seconds from the collector\'s first UPDATE until the router had handed its last byte to its socket; "held in the path then" = bytes − 1 MB/s × that time: what the kernel buffers and the relay held between router and collector. Where the router is done long before the collector, the path took the table in without pushing back.',
  );
  if (c) {
    result.notes.push(
      `bgproxy when the router was done: agent RSS ${mib(c.agentRssAtRouterDone)}, gateway RSS ${mib(c.gatewayRssAtRouterDone)}.`,
    );
  }
  const byPath = (p: PathName) => runs.find((r) => r.path === p);
  const agentGrowth = c ? growth(c.agentPeak, c.agentRss0) : Number.NaN;
  const gatewayGrowth = c ? growth(c.gatewayPeak, c.gatewayRss0) : Number.NaN;
  const controlGrowth = {
    agent: control ? growth(control.agentPeak, control.agentRss0) : Number.NaN,
    gateway: control ? growth(control.gatewayPeak, control.gatewayRss0) : Number.NaN,
  };
  result.headlines.push({
    scenario: "5. slow far end",
    metric: "seconds to drain at 1 MB/s; relay memory growth",
    direct: `${fmt(byPath("direct")?.seconds, 1)} s`,
    socat: `${fmt(byPath("socat")?.seconds, 1)} s; PSS peak ${mib(byPath("socat")?.socatPssPeak, 1)}`,
    bgproxy: c
      ? `${fmt(c.seconds, 1)} s; agent +${mib(agentGrowth)}, gateway +${mib(gatewayGrowth)}, buffered ≤ ${mib(c.agentBufferedPeak, 2)}`
      : "—",
    ratios: "",
  });
  for (const [role, grown] of [
    ["agent", agentGrowth],
    ["gateway", gatewayGrowth],
  ] as const) {
    const missed = Number.isFinite(grown) && grown >= TARGET_GROWTH;
    const fast = controlGrowth[role];
    result.targets.push({
      target: `slow far end: ${role} RSS growth < 16 MB during the burst`,
      measured: mb(grown),
      met: Number.isFinite(grown) ? grown < TARGET_GROWTH : undefined,
      comment:
        [
          missed ? `missed by ${mb(grown - TARGET_GROWTH)}` : "",
          Number.isFinite(fast) ? `control (far end at full speed): ${mb(fast)}` : "",
        ]
          .filter(Boolean)
          .join("; ") || undefined,
    });
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

function note(result: ScenarioResult, path: PathName, problem: string): void {
  const text = `${PATH_LABEL[path]}: ${problem}`;
  if (path === "bgproxy") result.broken.push(text);
  else result.warnings.push(text);
}
