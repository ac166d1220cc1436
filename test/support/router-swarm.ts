/**
 * Many light BGP routers from one process: the benchmark's session swarm
 * (scripts/bench/session-swarm.ts, run as a worker inside a namespace), with a typed face
 * for tests and benchmarks. Each session comes from its own source address (which must be
 * configured in the namespace), opens with AS 4200000000+i, and keeps its session up with
 * KEEPALIVEs; `reconnect()` reopens those that were closed, as a router would.
 */
import { startWorker, type WorkerProcess } from "../../scripts/bench/worker-process.ts";
import type { Netns } from "./netns.ts";

export interface SwarmStatus {
  sessions: number;
  established: number;
  closed: number;
  keepalivesIn: number;
  /** ROUTE-REFRESHes received (each answered with the session's table again). */
  routeRefreshesIn: number;
  notificationsIn: number;
  errors: string[];
}

export interface SwarmConnectResult {
  established: number;
  failed: number;
  elapsedMs: number;
  errors: string[];
}

export class RouterSwarm {
  private constructor(readonly worker: WorkerProcess) {}

  static async start(netns: Netns, label = "swarm"): Promise<RouterSwarm> {
    return new RouterSwarm(await startWorker({ netns: netns.name, role: "swarm", label }));
  }

  /** Open one session from each source to host:port; resolves when all settled. */
  connect(
    host: string,
    port: number,
    sources: readonly string[],
    options: { holdTime?: number; concurrency?: number; timeoutMs?: number } = {},
  ): Promise<SwarmConnectResult> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    return this.worker.request<SwarmConnectResult & Record<string, unknown>>(
      "connect",
      { host, port, sources: [...sources], ...options, timeoutMs },
      timeoutMs + 5_000,
    );
  }

  /** Reopen every closed session (same source, same address). */
  reconnect(timeoutMs = 30_000): Promise<{ reopened: number; established: number }> {
    return this.worker.request("reconnect", { timeoutMs }, timeoutMs + 5_000) as Promise<{
      reopened: number;
      established: number;
    }>;
  }

  status(): Promise<SwarmStatus> {
    return this.worker.request("status") as unknown as Promise<SwarmStatus>;
  }

  tail(lines = 20): string {
    return this.worker.tail(lines);
  }

  async stop(): Promise<void> {
    if (!this.worker.running) return;
    await this.worker.request("close", {}, 10_000).catch(() => undefined);
    await this.worker.stop();
  }
}
