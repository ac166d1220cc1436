/**
 * What a process costs, read from /proc (works for any pid on the machine, whatever its
 * namespace): CPU seconds (utime+stime, and what its reaped children used), resident memory
 * (VmRSS), its peak (VmHWM, resettable through clear_refs) and PSS (smaps_rollup: RSS with
 * shared pages divided among their sharers, the fair sum over many forked socat children).
 * A `Sampler` polls a set of processes to catch peaks between two readings.
 */
import { readFileSync, writeFileSync } from "node:fs";

export const CLK_TCK =
  Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

export interface ProcReading {
  /** utime + stime, seconds. */
  cpu: number;
  /** stime alone (in the kernel: syscalls, page faults), seconds. */
  sys: number;
  /** cutime + cstime: reaped children, seconds. */
  childCpu: number;
  rss: number;
  hwm: number;
  /** The file-backed part of rss (RssFile): pages of the executable and libraries mapped in. */
  rssFile: number;
}

/** A /proc/PID/stat (or task/TID/stat) text's command name and CPU times, seconds. */
export interface StatTimes {
  comm: string;
  /** utime + stime. */
  cpu: number;
  /** stime alone. */
  sys: number;
  /** cutime + cstime: reaped children. */
  childCpu: number;
}

/** Parses a /proc/PID/stat text (pure). */
export function parseStat(text: string): StatTimes {
  const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
  // Fields after the command name, which is in parentheses and may contain spaces: stat
  // fields 14-17 (utime stime cutime cstime) are f[11..14] after pid and comm.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const tick = (i: number) => Number(f[i]) / CLK_TCK;
  return { comm, cpu: tick(11) + tick(12), sys: tick(12), childCpu: tick(13) + tick(14) };
}

/** The number after `key:` at a line's start in a /proc text (status, io), NaN if absent. */
export function procField(text: string, key: string): number {
  return Number(text.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1] ?? Number.NaN);
}

/** undefined when the process is gone. */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const { cpu, sys, childCpu } = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => (procField(status, key) || 0) * 1024;
    return {
      cpu,
      sys,
      childCpu,
      rss: kb("VmRSS"),
      hwm: kb("VmHWM"),
      rssFile: kb("RssFile"),
    };
  } catch {
    return undefined;
  }
}

/** Proportional set size in bytes (0 when unreadable). */
export function readPss(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    return Number(text.match(/^Pss:\s+(\d+) kB/m)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs). */
export function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // the process is gone
  }
}

export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Pids of the processes in network namespace `netns` whose command name is `comm`. */
export function pidsInNetns(netns: string, comm: string): number[] {
  const out = Bun.spawnSync(["ip", "netns", "pids", netns]).stdout.toString();
  return out
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => commOf(pid) === comm);
}

/**
 * The CPU of a role whose process may be replaced (a gateway restarted): the current
 * process's (`pid()` is asked on every read) plus what each earlier one had used when last
 * read. An earlier process loses what it used after its last reading.
 */
export class SuccessiveCpu {
  private readonly last = new Map<number, { cpu: number; sys: number }>();

  constructor(
    private readonly pid: () => number,
    private readonly readPid: (pid: number) => ProcReading | undefined = readProc,
  ) {}

  /** Seconds (utime+stime, and stime alone) over every process seen; NaN before any reading. */
  read(): { cpu: number; sys: number } {
    const pid = this.pid();
    const now = this.readPid(pid);
    if (now) this.last.set(pid, { cpu: now.cpu, sys: now.sys });
    if (this.last.size === 0) return { cpu: Number.NaN, sys: Number.NaN };
    let cpu = 0;
    let sys = 0;
    for (const r of this.last.values()) {
      cpu += r.cpu;
      sys += r.sys;
    }
    return { cpu, sys };
  }
}

/** CPU seconds of a process including its reaped children. */
export function totalCpu(pid: number): number {
  const r = readProc(pid);
  return r ? r.cpu + r.childCpu : 0;
}

export interface SampledPeak {
  /** Largest value seen. */
  peak: number;
  /** First value seen. */
  first: number;
  last: number;
  samples: number;
}

/**
 * Polls `probes` (name → value, e.g. a pid's RSS or the sum of PSS over socat's children)
 * every `intervalMs` until stopped; async probes (a worker's status) are awaited, one round
 * at a time.
 */
export class Sampler {
  private readonly peaks = new Map<string, SampledPeak>();
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly probes: Record<string, () => number | undefined | Promise<number | undefined>>,
    private readonly intervalMs = 200,
  ) {}

  start(): this {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.sampleOnce();
        await Bun.sleep(this.intervalMs);
      }
    })();
    return this;
  }

  async stop(): Promise<Record<string, SampledPeak>> {
    this.running = false;
    await this.loop;
    await this.sampleOnce();
    return Object.fromEntries(this.peaks);
  }

  private async sampleOnce(): Promise<void> {
    for (const [name, probe] of Object.entries(this.probes)) {
      let v: number | undefined;
      try {
        v = await probe();
      } catch {
        v = undefined;
      }
      if (v === undefined || !Number.isFinite(v)) continue;
      const p = this.peaks.get(name);
      if (!p) this.peaks.set(name, { peak: v, first: v, last: v, samples: 1 });
      else {
        p.peak = Math.max(p.peak, v);
        p.last = v;
        p.samples++;
      }
    }
  }
}

/** Scheduling and I/O counts: time on and waiting for a CPU, read(2)/write(2) calls (/proc/PID/io: not recv/send) and context switches. */
export interface IoCounts {
  /** Seconds on a CPU and seconds runnable but waiting for one (/proc/PID/schedstat). */
  onCpu: number;
  waiting: number;
  syscr: number;
  syscw: number;
  voluntary: number;
  involuntary: number;
}

const IO_COUNT_FIELDS = [
  "onCpu",
  "waiting",
  "syscr",
  "syscw",
  "voluntary",
  "involuntary",
] as const satisfies readonly (keyof IoCounts)[];

/** `after` − `before` for each count; NaN throughout when the process was gone at either. */
export function ioCountsDelta(before: IoCounts | undefined, after: IoCounts | undefined): IoCounts {
  const delta = {} as IoCounts;
  for (const k of IO_COUNT_FIELDS) delta[k] = before && after ? after[k] - before[k] : Number.NaN;
  return delta;
}

/** undefined when the process is gone. */
export function readIoCounts(pid: number): IoCounts | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const [onCpu, waiting] = readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ").map(Number);
    return {
      onCpu: (onCpu ?? Number.NaN) / 1e9,
      waiting: (waiting ?? Number.NaN) / 1e9,
      syscr: procField(io, "syscr"),
      syscw: procField(io, "syscw"),
      voluntary: procField(status, "voluntary_ctxt_switches"),
      involuntary: procField(status, "nonvoluntary_ctxt_switches"),
    };
  } catch {
    return undefined;
  }
}
