/**
 * Entry of the benchmark's worker processes, run inside a namespace by worker-process.ts:
 *
 *   bun scripts/bench/worker.ts <role> '<json args>'
 *
 * Roles: sink, pump, echo, ping, swarm, speakers, agent (see each module). A worker prints
 * `{"event":"ready"}` once it can take commands; a failure to start is one line on stderr
 * and exit code 1.
 */
import { runAgentHost } from "./agent-host.ts";
import { runPump } from "./bgp-pump.ts";
import { runSink } from "./bgp-sink.ts";
import { runEcho } from "./keepalive-echo.ts";
import { runPing } from "./keepalive-ping.ts";
import { runRibFeed, runRibHolder } from "./rib-roles.ts";
import { runSwarm } from "./session-swarm.ts";
import { runSpeakers } from "./speaker-sink.ts";

// biome-ignore lint/suspicious/noExplicitAny: each role validates its own JSON argument
const ROLES: Record<string, (args: any) => Promise<void>> = {
  sink: runSink,
  pump: runPump,
  echo: runEcho,
  ping: runPing,
  swarm: runSwarm,
  speakers: runSpeakers,
  agent: runAgentHost,
  rib: runRibHolder,
  ribfeed: runRibFeed,
};

const [role = "", json = "{}"] = process.argv.slice(2);
const start = ROLES[role];
if (!start) {
  process.stderr.write(`bench worker: unknown role ${JSON.stringify(role)}\n`);
  process.exit(1);
}
try {
  await start(JSON.parse(json));
} catch (err) {
  process.stderr.write(`bench worker ${role}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
}
