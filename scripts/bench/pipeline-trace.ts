/**
 * How a table moves along a path over time, from outside every process: the router BIRD's
 * bytes written (/proc/PID/io wchar: its BGP socket writes) against the collector BIRD's
 * bytes read (rchar: its BGP socket reads, plus the few bytes of the benchmark's CLI
 * commands), sampled every `intervalMs`. Their difference is what the path holds (kernel
 * buffers and the relay); when each side finished says whether the router or the collector
 * set the pace and how long the path took to drain.
 */
import { readFileSync } from "node:fs";
import { procField } from "./proc-stats.ts";

export interface TraceSample {
  t: number;
  written: number;
  read: number;
}

export interface PipelineSummary {
  /** Seconds from the start of the trace until the router had written 99.9 % of its bytes. */
  routerDone: number;
  /** Until the collector had read 99.9 % of them. */
  collectorDone: number;
  /** Bytes in the path when the router was done, and the largest seen. */
  heldAtRouterDone: number;
  heldMax: number;
}

function ioField(pid: number, key: "rchar" | "wchar"): number {
  try {
    return procField(readFileSync(`/proc/${pid}/io`, "utf8"), key);
  } catch {
    return Number.NaN;
  }
}

export class PipelineTrace {
  private readonly samples: TraceSample[] = [];
  private timer?: ReturnType<typeof setInterval>;
  private readonly t0 = performance.now();

  constructor(
    private readonly routerPid: number,
    private readonly collectorPid: number,
    private readonly intervalMs = 20,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  /** Seconds since the trace was made (its samples' time). */
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  stop(): PipelineSummary {
    clearInterval(this.timer);
    this.sample();
    return summarizeTrace(this.samples);
  }

  private sample(): void {
    this.samples.push({
      t: this.elapsed(),
      written: ioField(this.routerPid, "wchar"),
      read: ioField(this.collectorPid, "rchar"),
    });
  }
}

/** When each side had moved 99.9 % of its bytes, and what the path held (samples in time order). */
export function summarizeTrace(s: readonly TraceSample[]): PipelineSummary {
  const first = s[0] as TraceSample;
  const last = s[s.length - 1] as TraceSample;
  const wrote = last.written - first.written;
  const read = last.read - first.read;
  const at = (f: (x: TraceSample) => boolean) => s.find(f) ?? last;
  const routerDone = at((x) => x.written - first.written >= 0.999 * wrote);
  const collectorDone = at((x) => x.read - first.read >= 0.999 * read);
  const held = (x: TraceSample) => x.written - first.written - (x.read - first.read);
  return {
    routerDone: routerDone.t,
    collectorDone: collectorDone.t,
    heldAtRouterDone: held(routerDone),
    heldMax: Math.max(...s.map(held)),
  };
}
