/**
 * What the convergence scenario records around each run besides its time and CPU, all
 * read from outside the processes and mostly independent of other load on the machine:
 * the agent's and the gateway's CPU by thread (thread-cpu.ts), the BIRDs' scheduling
 * (on a CPU, waiting for one, asleep) and read/write calls, the TCP counters of the three
 * namespaces, and the router-written against collector-read trace (pipeline-trace.ts):
 * when each BIRD was done and what the path held when the router was.
 */

import { fmt, mb } from "./figures.ts";
import { type PipelineSummary, PipelineTrace } from "./pipeline-trace.ts";
import { type IoCounts, ioCountsDelta, readIoCounts } from "./proc-stats.ts";
import type { MarkdownTable } from "./report.ts";
import { counterDelta, readTcpCounters, type TcpCounters } from "./tcp-counters.ts";
import { readThreads, type ThreadCpu, type ThreadReading, threadCpuDelta } from "./thread-cpu.ts";
import type { BenchTopology } from "./topology.ts";

export interface RoundEvidence {
  /** Seconds from the probe's start (its trace's) to its end (the BIRDs' scheduling adds up to it). */
  window: number;
  pipe: PipelineSummary;
  io: { router: IoCounts; collector: IoCounts };
  tcp: { router: TcpCounters; proxy: TcpCounters; collector: TcpCounters };
  /** bgproxy's path only. */
  threads?: { agent: ThreadCpu; gateway: ThreadCpu };
}

interface Pids {
  router: number;
  collector: number;
  agent: number;
  gateway: number;
}

interface Snapshot {
  tcp: RoundEvidence["tcp"];
  io: { router?: IoCounts; collector?: IoCounts };
  threads: { agent?: ThreadReading; gateway?: ThreadReading };
}

/** The counters before or after a round; the relay's threads only when `withThreads`. */
async function snapshot(topo: BenchTopology, pids: Pids, withThreads: boolean): Promise<Snapshot> {
  const [router, proxy, collector] = await Promise.all([
    readTcpCounters(topo.router),
    readTcpCounters(topo.proxy),
    readTcpCounters(topo.collector),
  ]);
  return {
    tcp: { router, proxy, collector },
    io: { router: readIoCounts(pids.router), collector: readIoCounts(pids.collector) },
    threads: withThreads
      ? { agent: readThreads(pids.agent), gateway: readThreads(pids.gateway) }
      : {},
  };
}

export class EvidenceProbe {
  private constructor(
    private readonly topo: BenchTopology,
    private readonly pids: Pids,
    private readonly before: Snapshot,
    private readonly trace: PipelineTrace,
    private readonly withThreads: boolean,
  ) {}

  /**
   * Call right before the router's session is enabled; `withThreads`: also the relay's CPU
   * by thread (the bgproxy path's agent and gateway).
   */
  static async begin(
    topo: BenchTopology,
    pids: Pids,
    withThreads: boolean,
  ): Promise<EvidenceProbe> {
    const before = await snapshot(topo, pids, withThreads);
    const trace = new PipelineTrace(pids.router, pids.collector).start();
    return new EvidenceProbe(topo, pids, before, trace, withThreads);
  }

  async end(): Promise<RoundEvidence> {
    const pipe = this.trace.stop();
    const window = this.trace.elapsed();
    const after = await snapshot(this.topo, this.pids, this.withThreads);
    const b = this.before;
    const { agent: a0, gateway: g0 } = b.threads;
    const { agent: a1, gateway: g1 } = after.threads;
    return {
      window,
      pipe,
      io: {
        router: ioCountsDelta(b.io.router, after.io.router),
        collector: ioCountsDelta(b.io.collector, after.io.collector),
      },
      tcp: {
        router: counterDelta(b.tcp.router, after.tcp.router),
        proxy: counterDelta(b.tcp.proxy, after.tcp.proxy),
        collector: counterDelta(b.tcp.collector, after.tcp.collector),
      },
      threads:
        a0 && a1 && g0 && g1
          ? {
              agent: threadCpuDelta(this.pids.agent, a0, a1),
              gateway: threadCpuDelta(this.pids.gateway, g0, g1),
            }
          : undefined,
    };
  }
}

/** Progress lines for the log: scheduling, the trace, every TCP counter that moved. */
export function evidenceLines(e: RoundEvidence): string[] {
  const sched = (c: IoCounts) =>
    `on CPU ${fmt(c.onCpu, 2)} s, waiting ${fmt(c.waiting, 2)} s, asleep ${fmt(asleep(e, c), 2)} s, ${c.syscr} reads, ${c.syscw} writes, ${c.voluntary}/${c.involuntary} switches`;
  const p = e.pipe;
  return [
    `    router BIRD: ${sched(e.io.router)}; collector BIRD: ${sched(e.io.collector)}`,
    `    path: router done after ${fmt(p.routerDone, 2)} s, collector after ${fmt(p.collectorDone, 2)} s; held ${mb(p.heldAtRouterDone)} then, at most ${mb(p.heldMax)}`,
    ...Object.entries(e.tcp).map(
      ([ns, d]) =>
        `    tcp ${ns}: ${Object.entries(d)
          .filter(([, v]) => v !== 0)
          .map(([k, v]) => `${k.replace(/^Tcp(Ext)?\./, "")}=${v}`)
          .join(" ")}`,
    ),
  ];
}

function asleep(e: RoundEvidence, c: IoCounts): number {
  return e.window - c.onCpu - c.waiting;
}

interface Row {
  round: number;
  label: string;
  evidence: RoundEvidence;
}

/** Per run: when each BIRD was done, what the path held, the collector's scheduling. */
export function pathTable(rows: readonly Row[]): MarkdownTable {
  return {
    caption:
      "Where each run's time went (from outside the processes): router done / collector done = seconds from enabling the session until the router BIRD had written, and the collector BIRD read, 99.9 % of their bytes (/proc/PID/io, sampled every 20 ms); held = written minus read when the router was done; the collector's seconds on a CPU, runnable but waiting for one, and asleep (nothing to read), its read(2) calls and segments received:",
    head: [
      "round",
      "path",
      "router done",
      "collector done",
      "held then",
      "collector on CPU / waiting / asleep",
      "collector reads",
      "segments into the collector",
    ],
    rows: rows.map(({ round, label, evidence: e }) => [
      String(round),
      label,
      fmt(e.pipe.routerDone, 2),
      fmt(e.pipe.collectorDone, 2),
      mb(e.pipe.heldAtRouterDone),
      `${fmt(e.io.collector.onCpu, 2)} / ${fmt(e.io.collector.waiting, 2)} / ${fmt(asleep(e, e.io.collector), 2)}`,
      String(e.io.collector.syscr),
      String(e.tcp.collector["Tcp.InSegs"] ?? ""),
    ]),
  };
}

/** bgproxy's CPU by thread group, per round; undefined without bgproxy runs. */
export function threadTable(rows: readonly Row[]): MarkdownTable | undefined {
  const threaded = rows.filter((r) => r.evidence.threads);
  if (threaded.length === 0) return undefined;
  const cells = (t: ThreadCpu) => [t.main, t.jit, t.gc, t.mimalloc, t.other].map((v) => fmt(v, 2));
  return {
    caption:
      "bgproxy's CPU seconds per round by thread (/proc/PID/task): main = the JavaScript thread, JIT = JITWorker, GC = HeapHelper, mimalloc = mi-scavenger, other = the rest and exited threads:",
    head: [
      "round",
      "agent main",
      "agent JIT",
      "agent GC",
      "agent mimalloc",
      "agent other",
      "gateway main",
      "gateway JIT",
      "gateway GC",
      "gateway mimalloc",
      "gateway other",
    ],
    rows: threaded.map((r) => {
      const t = r.evidence.threads as { agent: ThreadCpu; gateway: ThreadCpu };
      return [String(r.round), ...cells(t.agent), ...cells(t.gateway)];
    }),
  };
}
