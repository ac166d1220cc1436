/**
 * How big each scenario runs: `quick` (CI: small tables, 50 sessions, a few MB; minutes) and
 * `full` (the sizes: a 1.2M-prefix table, 1 GiB, 1,000 sessions; tens of minutes).
 * Rounds repeat every path, interleaved (a, b, c, a, b, c ...), so a noisy neighbour hurts
 * all paths alike; medians are reported (convergence: 5 rounds, its verdicts the median of
 * per-round ratios, scenario-convergence.ts).
 */

import { MB, MiB } from "./figures.ts";
import { FULL_TABLE, type TableSpec } from "./full-table.ts";

export interface BenchMode {
  name: "quick" | "full";
  convergence: {
    table: TableSpec;
    rounds: number;
    /** Router BIRD: parse + load the table. */
    loadTimeoutMs: number;
    /** One path: Established → every prefix at the collector. */
    runTimeoutMs: number;
  };
  throughput: { block: TableSpec; bytes: number; rounds: number };
  scale: { sessions: number; prefixesPerSession: number; holdTime: number; idleSeconds: number };
  latency: { samples: number; rounds: number; intervalMs: number };
  slow: { table: TableSpec; rateBytesPerSec: number };
  /** Bridged sessions across a gateway `kill -9` and restart (hold time 90 s, as routers). */
  bridge: { sessions: number; prefixesPerSession: number; holdTime: number };
}

export const QUICK: BenchMode = {
  name: "quick",
  convergence: {
    table: { ipv4: 20_000, ipv6: 4_000, seed: FULL_TABLE.seed },
    rounds: 1,
    loadTimeoutMs: 60_000,
    runTimeoutMs: 60_000,
  },
  throughput: { block: { ipv4: 20_000, ipv6: 4_000, seed: 7 }, bytes: 64 * MiB, rounds: 1 },
  scale: { sessions: 50, prefixesPerSession: 200, holdTime: 9, idleSeconds: 5 },
  latency: { samples: 300, rounds: 1, intervalMs: 2 },
  slow: { table: { ipv4: 100_000, ipv6: 20_000, seed: 11 }, rateBytesPerSec: 1 * MB },
  bridge: { sessions: 200, prefixesPerSession: 100, holdTime: 90 },
};

export const FULL: BenchMode = {
  name: "full",
  convergence: { table: FULL_TABLE, rounds: 5, loadTimeoutMs: 600_000, runTimeoutMs: 600_000 },
  throughput: { block: { ipv4: 100_000, ipv6: 20_000, seed: 7 }, bytes: 1024 * MiB, rounds: 3 },
  scale: { sessions: 1000, prefixesPerSession: 1000, holdTime: 30, idleSeconds: 30 },
  latency: { samples: 2000, rounds: 3, intervalMs: 2 },
  slow: { table: FULL_TABLE, rateBytesPerSec: 1 * MB },
  bridge: { sessions: 1000, prefixesPerSession: 1000, holdTime: 90 },
};
