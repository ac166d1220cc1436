/** What every scenario gets: the network, the sizes, where to profile, how to say progress. */
import type { BenchMode } from "./modes.ts";
import type { BenchTopology, PathName } from "./topology.ts";

export interface BenchContext {
  topo: BenchTopology;
  mode: BenchMode;
  /** When set, agent and gateway run under `bun --cpu-prof` writing here. */
  profileDir?: string;
  /** Paths to run (`--paths`; default all three: ratios need them all). */
  paths?: readonly PathName[];
  /** Bun flags for agent and gateway (`--bun-flags`; default the release binary's). */
  bunFlags?: readonly string[];
  log(message: string): void;
}

/** The router's AS on every path; the far end is AS 64512 (bgproxy-stack.ts COLLECTOR_ASN). */
export const ROUTER_ASN = 65001;
