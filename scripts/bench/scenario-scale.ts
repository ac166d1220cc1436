/**
 * Scenario 3, session scale: N BGP sessions (1,000 in full mode) from N router addresses in
 * R, held through each path: (a) straight to a far end running the built-in collector's
 * speaker code, (b) through one socat per session, (c) through ONE agent to the gateway's
 * built-in collector (N [[device]] entries). Keepalives flow (hold time 30 s in full mode,
 * 9 s in quick). Measured: relay memory before (0 sessions) and with N idle sessions —
 * per-session memory = (RSS(N) − RSS(0)) / N — CPU per second while idle, then every
 * session announcing its own block of prefixes: time until the far end holds them all, and
 * memory after.
 */
import type { BenchContext } from "./context.ts";
import { fmt, int, kib, MB, mb, mib } from "./figures.ts";
import { readProc, Sampler } from "./proc-stats.ts";
import { startRelayPaths } from "./relay-paths.ts";
import { emptyResult, type ScenarioResult } from "./report.ts";
import { addSourceBlock, PATH_LABEL, PATHS, type PathName } from "./topology.ts";
import { startWorker, type WorkerProcess } from "./worker-process.ts";

const TARGET_AGENT_RSS = 150 * MB;
const TARGET_PER_SESSION = 64 * 1024;

interface Run {
  path: PathName;
  connectSeconds: number;
  relayMem0: number;
  relayMemN: number;
  relayMemAfter: number;
  relayMemPeak: number;
  gatewayRss0?: number;
  gatewayRssN?: number;
  gatewayRssAfter?: number;
  idleCpuPerSec: number;
  gatewayIdleCpuPerSec?: number;
  keepalivesPerSec: number;
  announceSeconds: number;
  prefixes: number;
}

interface FarCounts {
  established: number;
  prefixes: number;
  sessions: number;
}

export async function runScale(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { topo, mode } = ctx;
  const cfg = mode.scale;
  const n = cfg.sessions;
  const wanted = n * cfg.prefixesPerSession;
  const result = emptyResult("scale", `3. Session scale (${n} sessions through one relay)`);
  const sources = await addSourceBlock(topo, n);
  const speakers = await startWorker({
    netns: topo.collector.name,
    role: "speakers",
    args: {
      listen: [{ host: "0.0.0.0", port: 179 }],
      asn: 64512,
      routerId: "192.0.2.9",
      holdTime: cfg.holdTime,
    },
  });
  const swarm = await startWorker({ netns: topo.router.name, role: "swarm" });
  const devices = sources.map((ip, i) => ({
    name: `scale-${i + 1}`,
    id: 10_000 + i,
    ip,
    target: "collector" as const,
  }));
  const relays = await startRelayPaths(ctx, "scale", devices, cfg.holdTime);
  const runs: Run[] = [];

  const far = async (path: PathName): Promise<FarCounts> => {
    if (path !== "bgproxy") {
      const s = await speakers.request("stats");
      return {
        established: Number(s.established),
        prefixes: Number(s.ipv4) + Number(s.ipv6),
        sessions: Number(s.sessions),
      };
    }
    const list = await relays.stack.gateway.devices();
    return {
      established: list.filter((d) => d.state === "established").length,
      prefixes: list.reduce((sum, d) => sum + d.prefixes.ipv4 + d.prefixes.ipv6, 0),
      sessions: list.reduce((sum, d) => sum + d.sessions, 0),
    };
  };
  const waitFar = async (path: PathName, ok: (c: FarCounts) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let last: FarCounts = { established: 0, prefixes: 0, sessions: 0 };
    while (Date.now() < deadline) {
      last = await far(path).catch(() => last);
      if (ok(last)) return { ok: true, last };
      await Bun.sleep(path === "bgproxy" ? 1000 : 250);
    }
    return { ok: false, last };
  };
  const relayMem = (path: PathName) =>
    path === "socat"
      ? relays.socat.pss()
      : path === "bgproxy"
        ? (readProc(relays.agentPid)?.rss ?? Number.NaN)
        : 0;
  const relayCpu = (path: PathName) =>
    path === "socat" ? relays.socat.cpu() : path === "bgproxy" ? relays.cpu().agent : 0;

  try {
    for (const path of PATHS) {
      await Bun.sleep(2000);
      const mem0 = relayMem(path);
      const gw0 = readProc(relays.gatewayPid)?.rss;
      const t0 = Date.now();
      const entrance = topo.entrance[path];
      const connected = await swarm.request(
        "connect",
        {
          host: entrance.host,
          port: entrance.port,
          sources,
          holdTime: cfg.holdTime,
          concurrency: 64,
          timeoutMs: 60_000 + n * 100,
        },
        90_000 + n * 100,
      );
      const up = await waitFar(path, (c) => c.established >= n, 60_000);
      const connectSeconds = (Date.now() - t0) / 1000;
      ctx.log(
        `  scale ${path}: ${connected.established}/${n} sessions up at the router, ${up.last.established} at the far end, ${fmt(connectSeconds, 1)} s`,
      );
      if (!up.ok) {
        note(
          result,
          path,
          `only ${up.last.established} of ${n} sessions established at the far end (${JSON.stringify(connected.errors)})`,
        );
        await close(swarm, path, waitFar);
        continue;
      }
      await Bun.sleep(3000);
      const memN = relayMem(path);
      const gwN = readProc(relays.gatewayPid)?.rss;
      const cpu0 = relayCpu(path);
      const gwCpu0 = readProc(relays.gatewayPid)?.cpu ?? 0;
      const ka0 = Number((await swarm.request("status")).keepalivesIn);
      await Bun.sleep(cfg.idleSeconds * 1000);
      const cpu1 = relayCpu(path);
      const gwCpu1 = readProc(relays.gatewayPid)?.cpu ?? 0;
      const ka1 = Number((await swarm.request("status")).keepalivesIn);

      const sampler = new Sampler({ mem: () => relayMem(path) }, 250).start();
      const a0 = Date.now();
      await swarm.request("announce", { perSession: cfg.prefixesPerSession }, 120_000);
      const got = await waitFar(path, (c) => c.prefixes >= wanted, 300_000);
      const announceSeconds = (Date.now() - a0) / 1000;
      const peaks = await sampler.stop();
      await Bun.sleep(2000);
      const memAfter = relayMem(path);
      const gwAfter = readProc(relays.gatewayPid)?.rss;
      if (!got.ok)
        note(result, path, `${int(got.last.prefixes)} of ${int(wanted)} prefixes arrived`);
      const run: Run = {
        path,
        connectSeconds,
        relayMem0: mem0,
        relayMemN: memN,
        relayMemAfter: memAfter,
        relayMemPeak: Math.max(peaks.mem?.peak ?? 0, memAfter),
        idleCpuPerSec: (cpu1 - cpu0) / cfg.idleSeconds,
        keepalivesPerSec: (ka1 - ka0) / cfg.idleSeconds,
        announceSeconds,
        prefixes: got.last.prefixes,
        ...(path === "bgproxy"
          ? {
              gatewayRss0: gw0,
              gatewayRssN: gwN,
              gatewayRssAfter: gwAfter,
              gatewayIdleCpuPerSec: (gwCpu1 - gwCpu0) / cfg.idleSeconds,
            }
          : {}),
      };
      runs.push(run);
      ctx.log(
        `  scale ${path}: relay memory ${mib(mem0)} → ${mib(memN)} (${kib((memN - mem0) / n)}/session), idle CPU ${fmt(run.idleCpuPerSec, 3)} s/s, ${int(run.prefixes)} prefixes in ${fmt(announceSeconds, 1)} s`,
      );
      await close(swarm, path, waitFar);
    }
  } finally {
    await swarm.request("close").catch(() => undefined);
    result.profiles = await relays.stop();
    await swarm.stop();
    await speakers.stop();
  }

  const perSession = (r: Run) => (r.relayMemN - r.relayMem0) / n;
  result.tables.push({
    caption: `${n} sessions, hold time ${cfg.holdTime} s, idle window ${cfg.idleSeconds} s, then ${int(cfg.prefixesPerSession)} prefixes per session. Relay memory: the agent's RSS for (c), the PSS summed over socat's listener and children for (b), nothing for (a):`,
    head: [
      "path",
      "sessions up in",
      "relay mem, 0 sessions",
      `relay mem, ${n} idle`,
      "per session",
      "idle CPU s/s",
      "keepalives/s at routers",
      `announce ${int(wanted)}: seconds`,
      "prefixes/s",
      "relay mem after / peak",
    ],
    rows: runs.map((r) => [
      PATH_LABEL[r.path],
      `${fmt(r.connectSeconds, 1)} s`,
      r.path === "direct" ? "—" : mib(r.relayMem0),
      r.path === "direct" ? "—" : mib(r.relayMemN),
      r.path === "direct" ? "—" : kib(perSession(r)),
      r.path === "direct" ? "—" : fmt(r.idleCpuPerSec, 4),
      fmt(r.keepalivesPerSec, 1),
      fmt(r.announceSeconds, 1),
      int(r.prefixes / r.announceSeconds),
      r.path === "direct" ? "—" : `${mib(r.relayMemAfter)} / ${mib(r.relayMemPeak)}`,
    ]),
  });
  const c = runs.find((r) => r.path === "bgproxy");
  const b = runs.find((r) => r.path === "socat");
  const a = runs.find((r) => r.path === "direct");
  if (c) {
    result.notes.push(
      `Gateway (built-in collector for all ${n} sessions): RSS ${mib(c.gatewayRss0)} with none, ${mib(c.gatewayRssN)} with ${n} idle (${kib(((c.gatewayRssN ?? 0) - (c.gatewayRss0 ?? 0)) / n)} per session), ${mib(c.gatewayRssAfter)} after ${int(wanted)} prefixes; idle CPU ${fmt(c.gatewayIdleCpuPerSec, 4)} s/s.`,
    );
  }
  result.headlines.push({
    scenario: "3. scale",
    metric: `${n} sessions: relay memory per session; idle CPU`,
    direct: "—",
    socat: b ? `${kib(perSession(b))}; ${fmt(b.idleCpuPerSec, 4)} s/s` : "—",
    bgproxy: c
      ? `${kib(perSession(c))} (agent RSS ${mib(c.relayMemN)}); ${fmt(c.idleCpuPerSec, 4)} s/s`
      : "—",
    ratios: b && c ? `c/b memory ${fmt(perSession(c) / perSession(b), 2)}×` : "",
  });
  result.headlines.push({
    scenario: "3. scale",
    metric: `announce ${int(wanted)} prefixes: seconds`,
    direct: a ? fmt(a.announceSeconds, 1) : "—",
    socat: b ? fmt(b.announceSeconds, 1) : "—",
    bgproxy: c ? fmt(c.announceSeconds, 1) : "—",
    ratios: a && c ? `c/a ${fmt(c.announceSeconds / a.announceSeconds, 2)}×` : "",
  });
  const full = n >= 1000;
  result.targets.push(
    {
      target: "1,000 sessions: agent RSS < 150 MB",
      measured: c ? `${mb(c.relayMemN)} with ${n} (${mb(c.relayMemAfter)} after announcing)` : "—",
      met: c && full ? c.relayMemN < TARGET_AGENT_RSS : undefined,
      comment:
        c && full && c.relayMemN >= TARGET_AGENT_RSS
          ? `missed by ${mb(c.relayMemN - TARGET_AGENT_RSS)}`
          : full
            ? undefined
            : `only ${n} sessions in this mode`,
    },
    {
      target: "per-session agent memory < 64 KiB",
      measured: c ? kib(perSession(c)) : "—",
      met: c ? perSession(c) < TARGET_PER_SESSION : undefined,
      comment:
        c && perSession(c) >= TARGET_PER_SESSION
          ? `missed by ${kib(perSession(c) - TARGET_PER_SESSION)} (${fmt(perSession(c) / TARGET_PER_SESSION, 2)}× the target)`
          : undefined,
    },
  );
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

async function close(
  swarm: WorkerProcess,
  path: PathName,
  waitFar: (
    path: PathName,
    ok: (c: FarCounts) => boolean,
    timeoutMs: number,
  ) => Promise<{ ok: boolean; last: FarCounts }>,
): Promise<void> {
  await swarm.request("close", {}, 30_000);
  await waitFar(path, (c) => c.sessions === 0 && c.established === 0, 60_000);
}

function note(result: ScenarioResult, path: PathName, problem: string): void {
  const text = `${PATH_LABEL[path]}: ${problem}`;
  if (path === "bgproxy") result.broken.push(text);
  else result.warnings.push(text);
}
