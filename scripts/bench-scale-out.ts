/**
 * Scale-out benchmark row: N router sessions (5,000 by default) over two gateways behind
 * HAProxy, on this machine, in network namespaces (root only):
 *
 *   R: the session swarm, one source address per router (R's loopback)
 *     --> P: two `bgproxy agent`s (N/2 routers each, TLS to HAProxy)
 *     --> C: HAProxy (image/haproxy/haproxy.cfg: TLS terminated, h2c to the gateways)
 *            + gateways gw-a and gw-b (one --config directory, built-in collector)
 *
 * Measured per gateway: RSS with its agents connected and no session, RSS with its share of
 * the N idle sessions (keepalives every hold/3 s), memory per session = the difference
 * divided by its sessions, and idle CPU (CPU seconds over a quiet window, as % of one core).
 * Agents and HAProxy are reported the same way. Prints a Markdown report.
 *
 *   bun scripts/bench-scale-out.ts [--sessions 5000] [--hold 90] [--idle-seconds 30]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BgproxyProcess, GatewayProcess } from "../test/support/bgproxy-process.ts";
import {
  addAddress,
  addRoute,
  allocateSubnet,
  destroyAllNetns,
  sweepStale,
} from "../test/support/netns.ts";
import { run } from "../test/support/process.ts";
import { createRelayTopology, hostIn } from "../test/support/relay-topology.ts";
import { RouterSwarm } from "../test/support/router-swarm.ts";
import { GATEWAY_NAMES, ScaleOutStack } from "../test/support/scale-out-stack.ts";
import { waitUntil } from "../test/support/wait.ts";
import { readProc } from "./bench/proc-stats.ts";

const NAMES = GATEWAY_NAMES;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`--${name} must be a positive integer`);
  return value;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("root is needed (network namespaces)");
  const sessions = option("sessions", 5000);
  const hold = option("hold", 90);
  const idleSeconds = option("idle-seconds", 30);
  await sweepStale();
  const topo = await createRelayTopology({ collector: true });
  const { rp } = topo;
  await addAddress(topo.proxy, rp.b.ifname, `${hostIn(rp, 3)}/24`);
  const agentAddress = [rp.b.ipv4, hostIn(rp, 3)];

  // N router addresses on R's loopback, routed from P back over the link.
  const sources: string[] = [];
  const batch: string[] = [];
  while (sources.length < sessions) {
    const subnet = allocateSubnet();
    await addRoute(topo.proxy, `10.255.${subnet}.0/24`, rp.a.ipv4);
    for (let host = 1; host <= 250 && sources.length < sessions; host++) {
      sources.push(`10.255.${subnet}.${host}`);
      batch.push(`address add 10.255.${subnet}.${host}/32 dev lo`);
    }
  }
  const batchFile = join(topo.dir, "sources.batch");
  writeFileSync(batchFile, `${batch.join("\n")}\n`);
  await run(["ip", "-n", topo.router.name, "-batch", batchFile], { timeoutMs: 120_000 });

  let stack: ScaleOutStack | undefined;
  let swarm: RouterSwarm | undefined;
  try {
    stack = await ScaleOutStack.start({
      topo,
      collector: { asn: 64512, routerId: "192.0.2.1", holdTime: hold },
      devices: sources.map((ip, i) => ({
        name: `r${i + 1}`,
        id: 1000 + i,
        ip,
        target: "collector" as const,
      })),
      agentAddresses: agentAddress,
      maxconn: 8000,
      startTimeoutMs: 60_000,
    });
    const gateways = NAMES.map((n) => stack?.gateways.get(n) as GatewayProcess);
    const agents = stack.agents;
    const haproxy = stack.haproxy;
    await Bun.sleep(5_000);
    const pid = (p: BgproxyProcess) => p.process.pid;
    const rss0 = gateways.map((g) => readProc(pid(g))?.rss ?? 0);
    const agentRss0 = agents.map((g) => readProc(pid(g))?.rss ?? 0);

    swarm = await RouterSwarm.start(topo.router);
    const half = Math.ceil(sessions / 2);
    const t0 = Date.now();
    const results = await Promise.all(
      agentAddress.map((address, i) =>
        (swarm as RouterSwarm).connect(address, 179, sources.slice(i * half, (i + 1) * half), {
          holdTime: hold,
          concurrency: 50,
          timeoutMs: 600_000,
        }),
      ),
    );
    const established = results.reduce((n, r) => n + r.established, 0);
    const connectSeconds = (Date.now() - t0) / 1000;
    const held = await waitUntil(
      async () => {
        const counts = await Promise.all(
          gateways.map(async (g) => (await g.devices()).reduce((n, d) => n + d.sessions, 0)),
        );
        return counts.reduce((x, y) => x + y, 0) >= established ? counts : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000, what: "the gateways hold every session" },
    );
    await Bun.sleep(10_000);
    const everyone = [...gateways, ...agents];
    const cpu0 = everyone.map((p) => readProc(pid(p))?.cpu ?? 0);
    const hapPids = (haproxy?.processes ?? []).map((p) => p.pid);
    const hapCpu0 = hapPids.map((p) => readProc(p)?.cpu ?? 0);
    await Bun.sleep(idleSeconds * 1000);
    const cpu1 = everyone.map((p) => readProc(pid(p))?.cpu ?? 0);
    const hapCpu1 = hapPids.map((p) => readProc(p)?.cpu ?? 0);
    const rssN = gateways.map((g) => readProc(pid(g))?.rss ?? 0);
    const agentRssN = agents.map((g) => readProc(pid(g))?.rss ?? 0);
    const hapRss = hapPids.reduce((n, p) => n + (readProc(p)?.rss ?? 0), 0);
    const pct = (i: number) =>
      `${((((cpu1[i] ?? 0) - (cpu0[i] ?? 0)) / idleSeconds) * 100).toFixed(2)} %`;
    const hapPct = (
      ((hapCpu1.reduce((x, y) => x + y, 0) - hapCpu0.reduce((x, y) => x + y, 0)) / idleSeconds) *
      100
    ).toFixed(2);

    const lines = [
      `## Scale-out: ${established} of ${sessions} sessions over two gateways behind HAProxy`,
      "",
      `Command: \`bun scripts/bench-scale-out.ts --sessions ${sessions} --hold ${hold} --idle-seconds ${idleSeconds}\``,
      `(${new Date().toISOString()}, Bun ${Bun.version}, ${navigatorCores()} cores; hold time ${hold} s,`,
      `keepalives every ${Math.floor(hold / 3)} s; connected in ${connectSeconds.toFixed(1)} s;`,
      `idle CPU over ${idleSeconds} s, as % of one core).`,
      "",
      "| process | sessions | RSS, no session | RSS, idle sessions | per session | idle CPU |",
      "|---|---|---|---|---|---|",
      ...gateways.map((_, i) => {
        const n = held[i] ?? 0;
        const per =
          n > 0 ? `${(((rssN[i] ?? 0) - (rss0[i] ?? 0)) / n / 1024).toFixed(1)} KiB` : "—";
        return `| gateway ${NAMES[i]} | ${n} | ${mib(rss0[i] ?? 0)} | ${mib(rssN[i] ?? 0)} | ${per} | ${pct(i)} |`;
      }),
      ...agents.map((_, i) => {
        const n = results[i]?.established ?? 0;
        const per = `${(((agentRssN[i] ?? 0) - (agentRss0[i] ?? 0)) / Math.max(1, n) / 1024).toFixed(1)} KiB`;
        return `| agent ${i + 1} | ${n} | ${mib(agentRss0[i] ?? 0)} | ${mib(agentRssN[i] ?? 0)} | ${per} | ${pct(gateways.length + i)} |`;
      }),
      `| HAProxy | ${established} | — | ${mib(hapRss)} | — | ${hapPct} % |`,
    ];
    console.log(lines.join("\n"));
  } finally {
    await swarm?.stop();
    await stack?.stop();
    await destroyAllNetns();
  }
}

function navigatorCores(): number {
  return navigator.hardwareConcurrency;
}

await main();
