import { readProc, resetPeak, Sampler } from "../../scripts/bench/proc-stats.ts";
import {
  type BgproxyProcess,
  type GatewayProcess,
  startAgentProcess,
  startGatewayProcess,
} from "./bgproxy-process.ts";
import type { Netns } from "./netns.ts";
import type { ManagedProcess } from "./process.ts";

/**
 * Issue 9's slow far end in miniature, shared by test/e2e/relay-memory.test.ts and
 * scripts/bench/relay-floor.ts: a router pushing PUSH_BYTES as fast as its relay takes them,
 * a daemon reading 1 MB/s, and the memory a relay process gains meanwhile. The helpers are
 * plain CommonJS scripts (run with `-e` by Bun or Node) that print their counts every 100 ms.
 */
export const PUSH_BYTES = 200 * 1024 * 1024;

/** Reads at 1 MB/s (pausing after each chunk for as long as it takes at that rate). */
export function daemonScript(port: number): string {
  return `
const net = require("node:net");
let read = 0;
net.createServer((s) => {
  s.on("error", () => {});
  s.on("data", (c) => { read += c.length; s.pause(); setTimeout(() => s.resume(), c.length / 1000); });
}).listen(${port}, "127.0.0.1", () => console.log("listening"));
setInterval(() => console.log("read " + read), 100);
`;
}

/** Pushes PUSH_BYTES in 64 KiB writes, waiting for "drain" whenever the socket asks to. */
export function routerScript(port: number): string {
  return `
const net = require("node:net");
const block = Buffer.alloc(64 * 1024, 0x5a);
let pushed = 0;
const s = net.connect(${port}, "127.0.0.1");
s.on("error", () => {});
const push = () => {
  while (pushed < ${PUSH_BYTES}) {
    pushed += block.length;
    if (!s.write(block)) { s.once("drain", push); return; }
  }
};
s.on("connect", push);
setInterval(() => console.log("pushed " + pushed), 100);
`;
}

/** The last "<word> N" line a helper printed. */
export function lastCount(proc: ManagedProcess, word: string): number {
  const lines = proc.lines();
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = new RegExp(`^${word} (\\d+)$`).exec(lines[i]?.text ?? "");
    if (m) return Number(m[1]);
  }
  return 0;
}

/**
 * Reads each process's VmRSS (and resets its VmHWM to it), then calls `start` (the router
 * starts pushing) and samples for `durationMs` (scripts/bench/proc-stats.ts's Sampler, every
 * `intervalMs`): growth = max(sampled VmRSS, VmHWM) − VmRSS before. `peaksOf`: more values
 * to sample (e.g. the bytes held between router and daemon); their peaks are returned.
 */
export async function watchGrowth<K extends string>(
  pids: Record<K, number>,
  options: {
    durationMs: number;
    intervalMs: number;
    start: () => unknown;
    peaksOf?: Record<string, () => number | undefined>;
  },
): Promise<{ growth: Record<K, number>; peaks: Record<string, number> }> {
  const names = Object.keys(pids) as K[];
  const before = {} as Record<K, number>;
  const probes: Record<string, () => number | undefined> = {};
  for (const k of names) {
    before[k] = readProc(pids[k])?.rss ?? Number.NaN;
    resetPeak(pids[k]);
    probes[`rss ${k}`] = () => readProc(pids[k])?.rss;
  }
  for (const [name, probe] of Object.entries(options.peaksOf ?? {})) probes[name] = probe;
  await options.start();
  const sampler = new Sampler(probes, options.intervalMs).start();
  await Bun.sleep(options.durationMs);
  const sampled = await sampler.stop();
  const growth = {} as Record<K, number>;
  for (const k of names) {
    const peak = Math.max(sampled[`rss ${k}`]?.peak ?? 0, readProc(pids[k])?.hwm ?? 0);
    growth[k] = peak - before[k];
  }
  const peaks: Record<string, number> = {};
  for (const name of Object.keys(options.peaksOf ?? {})) peaks[name] = sampled[name]?.peak ?? 0;
  return { growth, peaks };
}

/**
 * `bgproxy gateway` forwarding one device (127.0.0.1) to the daemon on `daemonPort`, and
 * `bgproxy agent` taking routers on `routerPort`, in `ns` (config files under `dir`).
 */
export async function startBgproxyPair(
  ns: Netns,
  dir: string,
  ports: { router: number; daemon: number },
): Promise<{ agent: BgproxyProcess; gateway: GatewayProcess }> {
  const gateway = await startGatewayProcess({
    netns: ns,
    dir,
    spec: {
      collector: { asn: 64512, routerId: "192.0.2.1" },
      devices: [
        {
          name: "r1",
          id: 1,
          ip: "127.0.0.1",
          target: "forward",
          forward: `127.0.0.1:${ports.daemon}`,
        },
      ],
    },
    logLevel: "info",
  });
  try {
    const agent = await startAgentProcess({
      netns: ns,
      listen: [`127.0.0.1:${ports.router}`],
      target: gateway.target,
      logLevel: "info",
    });
    return { agent, gateway };
  } catch (err) {
    await gateway.stop();
    throw err;
  }
}
