/**
 * Scenario 2, raw relay throughput: one session pushes well-formed UPDATE bytes (the table
 * generator's UPDATEs, repeated to the size asked for: 1 GiB in full mode) from R through
 * each path to a counting sink in C. Throughput is measured at the sink, from its first
 * UPDATE to its last byte; CPU seconds per GiB for each relay process come from /proc. Every
 * message must arrive, in order and whole: anything else is "broken".
 */
import type { BenchContext } from "./context.ts";
import { ROUTER_ASN } from "./context.ts";
import { fmt, GiB, int, MB, median, mib, ratio } from "./figures.ts";
import { cpuDelta, type RelayCpu, startRelayPaths } from "./relay-paths.ts";
import { emptyResult, type ScenarioResult } from "./report.ts";
import { PATH_LABEL, PATHS, type PathName } from "./topology.ts";
import { startWorker } from "./worker-process.ts";

interface Run {
  path: PathName;
  round: number;
  bytes: number;
  seconds: number;
  mbps: number;
  cpu: RelayCpu;
}

/** Published figure for chisel (TCP over HTTP/WebSocket) on loopback. */
const CHISEL_MBPS = 100;

export async function runThroughput(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { topo, mode } = ctx;
  const cfg = mode.throughput;
  const result = emptyResult("throughput", "2. Raw relay throughput");
  const sink = await startWorker({
    netns: topo.collector.name,
    role: "sink",
    args: { listen: [{ host: "0.0.0.0", port: 179 }] },
  });
  const pump = await startWorker(
    {
      netns: topo.router.name,
      role: "pump",
      args: {
        table: cfg.block,
        routerAsn: ROUTER_ASN,
        nextHop4: topo.rp.a.ipv4,
        nextHop6: topo.rp.a.ipv6,
      },
    },
    120_000,
  );
  const relays = await startRelayPaths(ctx, "throughput");
  const runs: Run[] = [];
  try {
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const path of PATHS) {
        sink.clearEvents();
        const cpu0 = relays.cpu();
        const timeoutMs = 60_000 + (cfg.bytes / (5 * MB)) * 1000;
        let sent: Record<string, unknown>;
        try {
          sent = await pump.request(
            "run",
            { ...topo.entrance[path], bytes: cfg.bytes, timeoutMs },
            timeoutMs,
          );
        } catch (err) {
          note(result, path, `pump failed: ${(err as Error).message.split("\n")[0]}`);
          continue;
        }
        const closed = await sink
          .waitEvent("closed", 120_000, (m) =>
            String(m.remote).startsWith(`${topo.farSource[path]}:`),
          )
          .catch(
            (err: Error) => ({ error: err.message.split("\n")[0] }) as Record<string, unknown>,
          );
        await Bun.sleep(300); // let socat reap its child
        const cpu = cpuDelta(cpu0, relays.cpu());
        const updates = Number(closed.updates ?? 0);
        if (closed.error || updates !== Number(sent.messages)) {
          note(
            result,
            path,
            `${int(updates)} of ${int(Number(sent.messages))} UPDATEs arrived${closed.error ? ` (${closed.error})` : ""}`,
          );
          continue;
        }
        const bytes = Number(sent.sent);
        const seconds = (Number(closed.lastByteAt) - Number(closed.firstUpdateAt)) / 1000;
        const run: Run = { path, round, bytes, seconds, mbps: bytes / MB / seconds, cpu };
        runs.push(run);
        ctx.log(
          `  throughput ${path} round ${round}: ${fmt(run.mbps)} MB/s (${mib(bytes)} in ${fmt(seconds, 2)} s)`,
        );
        await Bun.sleep(1000);
      }
    }
  } finally {
    result.profiles = await relays.stop();
    await pump.stop();
    await sink.stop();
  }

  const perGiB = (r: Run, s: number) => (s / r.bytes) * GiB;
  result.tables.push({
    caption: `Every run (${mib(cfg.bytes, 0)} of UPDATEs per run; CPU seconds per GiB relayed):`,
    head: [
      "round",
      "path",
      "bytes",
      "seconds",
      "MB/s",
      "agent CPU s/GiB (in kernel)",
      "gateway CPU s/GiB (in kernel)",
      "socat CPU s/GiB",
    ],
    rows: runs.map((r) => [
      String(r.round),
      PATH_LABEL[r.path],
      int(r.bytes),
      fmt(r.seconds, 2),
      fmt(r.mbps),
      r.path === "bgproxy"
        ? `${fmt(perGiB(r, r.cpu.agent), 2)} (${fmt(perGiB(r, r.cpu.agentSys), 2)})`
        : "",
      r.path === "bgproxy"
        ? `${fmt(perGiB(r, r.cpu.gateway), 2)} (${fmt(perGiB(r, r.cpu.gatewaySys), 2)})`
        : "",
      r.path === "socat" ? fmt(perGiB(r, r.cpu.socat), 2) : "",
    ]),
  });
  const med = (p: PathName, f: (r: Run) => number) =>
    median(runs.filter((r) => r.path === p).map(f));
  const mbps = (p: PathName) => med(p, (r) => r.mbps);
  const agentCpu = med("bgproxy", (r) => perGiB(r, r.cpu.agent));
  const gatewayCpu = med("bgproxy", (r) => perGiB(r, r.cpu.gateway));
  const socatCpu = med("socat", (r) => perGiB(r, r.cpu.socat));
  result.headlines.push(
    {
      scenario: "2. throughput",
      metric: `MB/s, one session (${mib(cfg.bytes, 0)})`,
      direct: fmt(mbps("direct")),
      socat: fmt(mbps("socat")),
      bgproxy: fmt(mbps("bgproxy")),
      ratios: `c/a ${ratio(mbps("bgproxy"), mbps("direct"))}, c/b ${ratio(mbps("bgproxy"), mbps("socat"))}`,
    },
    {
      scenario: "2. throughput",
      metric: "relay CPU s per GiB",
      direct: "—",
      socat: fmt(socatCpu, 2),
      bgproxy: `${fmt(agentCpu + gatewayCpu, 2)} (agent ${fmt(agentCpu, 2)} + gateway ${fmt(gatewayCpu, 2)})`,
      ratios: `c/b ${ratio(agentCpu + gatewayCpu, socatCpu)}`,
    },
  );
  const c = mbps("bgproxy");
  result.targets.push({
    target: `throughput ≥ 2× chisel (${2 * CHISEL_MBPS} MB/s)`,
    measured: `${fmt(c)} MB/s`,
    met: Number.isFinite(c) ? c >= 2 * CHISEL_MBPS : undefined,
    comment:
      Number.isFinite(c) && c < 2 * CHISEL_MBPS
        ? `missed by ${fmt(2 * CHISEL_MBPS - c)} MB/s (${fmt((c / (2 * CHISEL_MBPS)) * 100, 0)} % of target)`
        : undefined,
  });
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

function note(result: ScenarioResult, path: PathName, problem: string): void {
  const text = `${PATH_LABEL[path]}: ${problem}`;
  if (path === "bgproxy") result.broken.push(text);
  else result.warnings.push(text);
}
