/**
 * BIRD 2 as the benchmark's router and collector. Unlike test/support/bird.ts (whose
 * rendering it follows: connect delay 1 s, error wait 1-5 s, `multihop` behind relays) it
 * takes an `include` (the generated table, bird-statics.ts), starts sessions `disabled` so
 * that the bench enables one path at a time, prints protocol times with milliseconds
 * (`timeformat protocol "%T.%3f"`) and reads per-channel route counts from
 * `show protocols all`, which costs BIRD next to nothing even with a million routes (unlike
 * `show route count`, which walks the table).
 *
 * Measured (BIRD 2.0.12): its main loop sleeps in poll() for up to 3 s when it thinks no
 * work is pending, and an export sometimes stalls exactly that long — the last few dozen
 * routes of a 20k table arrived 3 s after the rest, on a direct session. A timer bounds the
 * sleep, so the device protocol scans every second: the stalls vanished in the same test.
 */
import { join } from "node:path";
import { parseProtocols, parseRouteCount } from "../../test/support/bird.ts";
import type { Netns } from "../../test/support/netns.ts";
import { type ManagedProcess, run } from "../../test/support/process.ts";
import { makeTempDir, removeTempDir } from "../../test/support/tempdir.ts";
import { WaitAborted, waitUntil } from "../../test/support/wait.ts";

export interface BenchBirdNeighbor {
  name: string;
  address: string;
  asn: number;
  localAddress: string;
  passive?: boolean;
  multihop?: boolean;
  disabled?: boolean;
  /** true: export everything (the router); false: export nothing (the collector). */
  exportAll: boolean;
}

export interface BenchBirdSpec {
  routerId: string;
  asn: number;
  neighbors: readonly BenchBirdNeighbor[];
  /** A config file to include (the table's static protocols). */
  include?: string;
}

export function renderBenchBird(spec: BenchBirdSpec, logFile: string): string {
  const lines = [
    `log "${logFile}" { warning, error, fatal, info };`,
    'timeformat protocol "%T.%3f";',
    `router id ${spec.routerId};`,
    "protocol device { scan time 1; }",
  ];
  if (spec.include) lines.push(`include "${spec.include}";`);
  for (const n of spec.neighbors) {
    const exp = n.exportAll ? "all" : "none";
    const imp = n.exportAll ? "none" : "all";
    lines.push(
      `protocol bgp ${n.name} {`,
      ...(n.disabled ? ["  disabled;"] : []),
      `  local ${n.localAddress} as ${spec.asn};`,
      `  neighbor ${n.address} as ${n.asn};`,
      ...(n.passive ? ["  passive;"] : []),
      ...(n.multihop ? ["  multihop;"] : []),
      "  connect delay time 1;",
      "  error wait time 1, 5;",
      `  ipv4 { import ${imp}; export ${exp}; };`,
      `  ipv6 { import ${imp}; export ${exp}; };`,
      "}",
    );
  }
  return `${lines.join("\n")}\n`;
}

export interface ChannelCounts {
  /** BGP state from the Info column, e.g. "Established", "Active". */
  info: string;
  /** Milliseconds since local midnight of the last state change (BIRD's Since column). */
  sinceMs: number;
  ipv4: number;
  ipv6: number;
}

/** `show protocols all NAME` → state and routes imported per channel. */
export function parseChannelCounts(output: string, name: string): ChannelCounts | undefined {
  const head = output.split("\n").find((l) => l.startsWith(`${name} `));
  if (!head) return undefined;
  const m = head.match(/^\S+\s+\S+\s+\S+\s+\S+\s+(\d{2}):(\d{2}):(\d{2})\.(\d{3})\s*(.*)$/);
  const sinceMs = m
    ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4])
    : Number.NaN;
  const counts: ChannelCounts = { info: (m?.[5] ?? "").trim(), sinceMs, ipv4: 0, ipv6: 0 };
  let channel: "ipv4" | "ipv6" | undefined;
  for (const line of output.split("\n")) {
    const c = line.match(/^\s+Channel (ipv4|ipv6)/);
    if (c) channel = c[1] as "ipv4" | "ipv6";
    const r = line.match(/^\s+Routes:\s+(\d+) imported/);
    if (r && channel) counts[channel] = Number(r[1]);
  }
  return counts;
}

/** Local time of day in ms, comparable with ChannelCounts.sinceMs. */
export function msOfDay(epochMs: number): number {
  const d = new Date(epochMs);
  return ((d.getHours() * 60 + d.getMinutes()) * 60 + d.getSeconds()) * 1000 + d.getMilliseconds();
}

export class BenchBird {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly socket: string,
    readonly process: ManagedProcess,
  ) {}

  get pid(): number {
    return this.process.pid;
  }

  /** Start `bird -f` in `netns` and wait (up to `startTimeoutMs`) for its control socket. */
  static async start(
    netns: Netns,
    spec: BenchBirdSpec,
    label: string,
    startTimeoutMs: number,
  ): Promise<BenchBird> {
    const dir = makeTempDir(label);
    const conf = join(dir, "bird.conf");
    const socket = join(dir, "bird.ctl");
    await Bun.write(conf, renderBenchBird(spec, join(dir, "bird.log")));
    const proc = netns.spawn(
      ["bird", "-f", "-c", conf, "-s", socket, "-P", join(dir, "bird.pid")],
      {
        label,
      },
    );
    const bird = new BenchBird(label, dir, socket, proc);
    try {
      await waitUntil(
        async () => {
          if (!proc.running) throw new WaitAborted(`${label} exited\n${proc.tail()}`);
          const r = await run(["birdc", "-s", socket, "show", "status"], {
            check: false,
            timeoutMs: 5000,
          });
          return r.code === 0 && /Daemon is up and running/.test(r.stdout);
        },
        { timeoutMs: startTimeoutMs, intervalMs: 500, what: `${label} control socket` },
      );
    } catch (err) {
      await bird.stop();
      throw err;
    }
    return bird;
  }

  async birdc(args: readonly string[], timeoutMs = 10_000): Promise<string> {
    const r = await run(["birdc", "-s", this.socket, ...args], { timeoutMs });
    return r.stdout;
  }

  async channelCounts(protocol: string): Promise<ChannelCounts | undefined> {
    return parseChannelCounts(await this.birdc(["show", "protocols", "all", protocol]), protocol);
  }

  /** Routes in all tables (walks the tables: slow on big ones). */
  async routeCount(): Promise<number> {
    return parseRouteCount(await this.birdc(["show", "route", "count"], 60_000)).routes;
  }

  async protocolInfo(protocol: string): Promise<string | undefined> {
    const p = parseProtocols(await this.birdc(["show", "protocols", protocol]));
    return p.find((x) => x.name === protocol)?.info;
  }

  async enable(protocol: string): Promise<void> {
    await this.birdc(["enable", protocol]);
  }

  async disable(protocol: string): Promise<void> {
    await this.birdc(["disable", protocol]);
  }

  tail(n = 20): string {
    return this.process.tail(n);
  }

  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 5000 });
    removeTempDir(this.dir);
  }
}
