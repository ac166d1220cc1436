import type { ProcessStats } from "./process-stats.ts";
import type { MetricsRegistry } from "./registry.ts";

/** The standard `process_*` metrics, registered on `registry` from a ProcessStats value. */
export function addProcessMetrics(registry: MetricsRegistry, p: ProcessStats): void {
  registry
    .counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds")
    .setTotal({}, p.cpuSecondsTotal);
  registry
    .gauge("process_resident_memory_bytes", "Resident memory size in bytes")
    .set({}, p.residentMemoryBytes);
  registry
    .gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds")
    .set({}, p.startTimeSeconds);
  registry.gauge("process_heap_bytes", "JavaScript heap in use, in bytes").set({}, p.heapUsedBytes);
  if (p.openFds !== undefined) {
    registry.gauge("process_open_fds", "Number of open file descriptors").set({}, p.openFds);
  }
}
