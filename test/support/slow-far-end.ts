import { readFileSync, writeFileSync } from "node:fs";
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

/** A /proc/PID/status memory field, in bytes. */
export function vm(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
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
 * starts pushing) and watches for `durationMs`: growth = max(VmRSS sampled every
 * `intervalMs`, VmHWM) − VmRSS before. `onSample` runs at each sample (the caller's own
 * bookkeeping, e.g. the bytes held between router and daemon).
 */
export async function watchGrowth<K extends string>(
  pids: Record<K, number>,
  options: {
    durationMs: number;
    intervalMs: number;
    start: () => unknown;
    onSample?: () => void;
  },
): Promise<Record<K, number>> {
  const names = Object.keys(pids) as K[];
  const before = {} as Record<K, number>;
  const peak = {} as Record<K, number>;
  for (const k of names) {
    before[k] = vm(pids[k], "VmRSS");
    peak[k] = before[k];
    writeFileSync(`/proc/${pids[k]}/clear_refs`, "5"); // VmHWM := VmRSS
  }
  await options.start();
  const end = Date.now() + options.durationMs;
  while (Date.now() < end) {
    await Bun.sleep(options.intervalMs);
    for (const k of names) peak[k] = Math.max(peak[k], vm(pids[k], "VmRSS"));
    options.onSample?.();
  }
  const growth = {} as Record<K, number>;
  for (const k of names) growth[k] = Math.max(peak[k], vm(pids[k], "VmHWM")) - before[k];
  return growth;
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
