/**
 * Scenario "rib" (issue 14): the collector's Adj-RIB-In against BIRD holding the same table
 * in the same run. A feeder in R sends the benchmark table (the convergence scenario's size:
 * 1M IPv4 + 200k IPv6 in full mode) as UPDATEs to two far ends in C over the direct link:
 * BIRD 2 (`import all`, passive) and bgproxy's collector speaker with its Adj-RIB-In (rib-roles.ts).
 * Both sessions stay up while memory is read:
 *
 * - BIRD: RSS growth of the bird process from before the session to all routes imported,
 *   and `show memory`'s total;
 * - bgproxy: RSS growth of the worker from start to all routes held (after a full GC), the
 *   RIB's own arrays (exact bytes) and bytes per route.
 *
 * Then in the worker: longest-prefix-match lookups per second on random IPv4 addresses, the
 * latency of GET /api/lookup on loopback, and the time to render the MRT snapshot.
 */

import { Bird } from "../../test/support/bird.ts";
import { waitUntil } from "../../test/support/wait.ts";
import { COLLECTOR_ASN } from "./bgproxy-stack.ts";
import { type BenchContext, ROUTER_ASN } from "./context.ts";
import { fmt, int, mib, ms } from "./figures.ts";
import { describeTable } from "./full-table.ts";
import { readProc } from "./proc-stats.ts";
import { emptyResult, type ScenarioResult } from "./report.ts";
import { startWorker } from "./worker-process.ts";

const RIB_PORT = 1790;
const TARGET_BYTES = 200 * 1e6;
const TARGET_LOOKUPS = 1e6;

/** "Total: 123.4 MB 1.2 MB" → bytes (effective), from `birdc show memory`. */
export function parseBirdTotal(output: string): number {
  const m = output.match(/^Total:\s+([\d.]+)\s+(B|kB|MB|GB)/m);
  if (!m) return Number.NaN;
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] as "B"];
  return Number(m[1]) * unit;
}

export async function runRib(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const { topo, mode } = ctx;
  const table = mode.convergence.table;
  const total = table.ipv4 + table.ipv6;
  const result = emptyResult("rib", "6. Adj-RIB-In memory and lookups (collector vs BIRD)");
  const bird = await Bird.start(
    {
      deviceScanTime: 1,
      routerId: topo.rc.b.ipv4,
      asn: COLLECTOR_ASN,
      neighbors: [
        {
          name: "from_feed",
          address: topo.rc.a.ipv4,
          localAddress: topo.rc.b.ipv4,
          asn: ROUTER_ASN,
          passive: true,
          multihop: true,
          export: "none",
        },
      ],
    },
    { netns: topo.collector, label: "rib-bird", startTimeoutMs: 30_000, commandTimeoutMs: 60_000 },
  );
  const holder = await startWorker({
    netns: topo.collector.name,
    role: "rib",
    args: { listen: { host: topo.rc.b.ipv4, port: RIB_PORT } },
  });
  const feed = await startWorker(
    {
      netns: topo.router.name,
      role: "ribfeed",
      args: {
        table,
        routerAsn: ROUTER_ASN,
        nextHop4: topo.rc.a.ipv4,
        nextHop6: topo.rc.a.ipv6,
      },
    },
    mode.convergence.loadTimeoutMs,
  );
  try {
    const timeoutMs = mode.convergence.runTimeoutMs;
    // BIRD.
    const birdBefore = readProc(bird.pid)?.rss ?? Number.NaN;
    const t0 = Date.now();
    await feed.request(
      "feed",
      { host: topo.rc.b.ipv4, port: 179, localAddress: topo.rc.a.ipv4 },
      timeoutMs,
    );
    await waitUntil(
      async () => {
        const c = await bird.channelRoutes("from_feed");
        return c !== undefined && c.ipv4 + c.ipv6 >= total;
      },
      { timeoutMs, intervalMs: 1000, what: `BIRD imports ${total} routes` },
    );
    const birdSeconds = (Date.now() - t0) / 1000;
    // bgproxy's RIB.
    const t1 = Date.now();
    await feed.request(
      "feed",
      { host: topo.rc.b.ipv4, port: RIB_PORT, localAddress: topo.rc.a.ipv4 },
      timeoutMs,
    );
    let stats: Record<string, unknown> = {};
    await waitUntil(
      async () => {
        stats = await holder.request("stats", {}, 60_000).catch(() => ({}));
        return (
          Number(stats.ipv4 ?? 0) + Number(stats.ipv6 ?? 0) >= total && stats.endOfRib === true
        );
      },
      { timeoutMs, intervalMs: 1000, what: `the collector's RIB holds ${total} routes` },
    );
    const ribSeconds = (Date.now() - t1) / 1000;
    stats = await holder.request("stats", { settleMs: 3000 }, 60_000);
    const birdAfter = readProc(bird.pid)?.rss ?? Number.NaN;
    const birdTotal = parseBirdTotal(await bird.birdc("show", "memory"));
    const base = stats.base as { rss: number; heapUsed: number; arrayBuffers: number };
    const now = stats.now as { rss: number; heapUsed: number; arrayBuffers: number };
    const ribRss = now.rss - base.rss;
    const ribBytes = Number(stats.ribBytes);
    const birdRss = birdAfter - birdBefore;
    const lookups = await holder.request("lookups", { n: 2_000_000 }, 120_000);
    const api = await holder.request("api", { n: 2000 }, 300_000);
    const held = Number(stats.ipv4) + Number(stats.ipv6);
    if (held !== total) result.broken.push(`the RIB holds ${held} of ${total} routes`);

    result.tables.push({
      caption: `Table ${describeTable(table)} (${int(total)} routes), held by each far end with the session up. RSS growth: from before the table to all routes imported and 3 s more (bgproxy: after a full GC); both read at the same moment.`,
      head: [
        "far end",
        "routes",
        "load s",
        "RSS growth",
        "bytes/route (RSS)",
        "own accounting",
        "attribute sets",
      ],
      rows: [
        [
          "BIRD 2 (import all)",
          int(total),
          fmt(birdSeconds, 1),
          mib(birdRss),
          int(birdRss / total),
          `show memory total ${mib(birdTotal)}`,
          "—",
        ],
        [
          "bgproxy Adj-RIB-In",
          int(held),
          fmt(ribSeconds, 1),
          mib(ribRss),
          int(ribRss / total),
          `RIB arrays ${mib(ribBytes)} (${int(ribBytes / total)} B/route); heap ${mib(now.heapUsed)}`,
          int(Number(stats.attributeSets)),
        ],
      ],
    });
    result.tables.push({
      caption: "Lookups on that table (in the worker, with the session up):",
      head: ["what", "result"],
      rows: [
        [
          "in-process LPM, random IPv4",
          `${int(Number(lookups.perSecond))}/s (${int(Number(lookups.hits))} of ${int(Number(lookups.lookups))} found)`,
        ],
        [
          "GET /api/lookup on loopback",
          `p50 ${ms(Number(api.p50Ms), 2)}, p99 ${ms(Number(api.p99Ms), 2)} (${int(Number(api.requests))} sequential)`,
        ],
        ["GET /api/devices/{name}/mrt", `${mib(Number(api.mrtBytes))} in ${ms(Number(api.mrtMs))}`],
        [
          "BMP resync: the table as Route Monitoring",
          `${int(Number(api.bmpMessages))} messages, ${mib(Number(api.bmpBytes))} in ${ms(Number(api.bmpMs))}`,
        ],
      ],
    });
    result.headlines.push({
      scenario: "6. rib",
      metric: `${describeTable(table)}: memory (RSS growth); LPM lookups/s`,
      direct: `BIRD ${mib(birdRss)}`,
      socat: "—",
      bgproxy: `${mib(ribRss)}; ${int(Number(lookups.perSecond))}/s`,
      ratios: `bgproxy/BIRD ${fmt(ribRss / birdRss, 2)}×`,
    });
    const full = total >= 1_000_000;
    result.targets.push(
      {
        target: "full table ≤ 200 MB and no more than BIRD",
        measured: `${mib(ribRss)} vs BIRD ${mib(birdRss)}`,
        met: full ? ribRss <= TARGET_BYTES && ribRss <= birdRss : undefined,
        ...(full ? {} : { comment: `only ${describeTable(table)} in this mode` }),
      },
      {
        target: "≥ 1M LPM lookups/s on a full table",
        measured: `${int(Number(lookups.perSecond))}/s`,
        met: full ? Number(lookups.perSecond) >= TARGET_LOOKUPS : undefined,
      },
    );
    ctx.log(
      `  rib: BIRD +${mib(birdRss)}, bgproxy +${mib(ribRss)} (arrays ${mib(ribBytes)}), ${int(Number(lookups.perSecond))} lookups/s, /api/lookup p50 ${ms(Number(api.p50Ms), 2)}`,
    );
    await feed.request("close", { host: topo.rc.b.ipv4, port: RIB_PORT }).catch(() => undefined);
    await feed.request("close", { host: topo.rc.b.ipv4, port: 179 }).catch(() => undefined);
  } finally {
    await feed.stop();
    await holder.stop();
    await bird.stop();
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
