/** Which signal an exporter ships. */
export type ExportSignal = "logs" | "metrics";

/** An exporter's counters, as the agent's status and metrics show them. */
export interface ExportStats {
  readonly signal: ExportSignal;
  /** Records (logs) or snapshots (metrics) waiting to be sent. */
  readonly queued: number;
  readonly sent: number;
  readonly dropped: number;
  readonly failedRequests: number;
  readonly failing: boolean;
}
