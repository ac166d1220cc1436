import { readdirSync } from "node:fs";

/**
 * This process's CPU time, memory and open descriptors, for the `process_*` metrics every
 * Prometheus client exposes. Read when a snapshot is taken (the only I/O here is listing
 * /proc/self/fd, skipped where there is no /proc).
 */
export interface ProcessStats {
  readonly cpuSecondsTotal: number;
  readonly residentMemoryBytes: number;
  readonly heapUsedBytes: number;
  readonly startTimeSeconds: number;
  /** Open file descriptors, when /proc can tell. */
  readonly openFds?: number;
}

const START_TIME_SECONDS = (Date.now() - performance.now()) / 1000;

function openFds(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

export function readProcessStats(): ProcessStats {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const fds = openFds();
  return {
    cpuSecondsTotal: (cpu.user + cpu.system) / 1e6,
    residentMemoryBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    startTimeSeconds: Math.round(START_TIME_SECONDS * 1000) / 1000,
    ...(fds === undefined ? {} : { openFds: fds }),
  };
}
