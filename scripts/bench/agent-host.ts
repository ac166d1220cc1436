/**
 * Worker role `agent`: `bgproxy agent` with a status line on demand. It parses the same
 * command line as `bgproxy agent` (src/config/cli.ts) and runs the same startAgent as
 * src/main.ts, logging JSON to stderr; the `status` command answers from
 * RunningAgent.status(): sessions and the bytes they hold in user space (bufferedBytes),
 * which the agent has no endpoint for yet. SIGTERM closes it and exits 0 (so a
 * `--cpu-prof` profile gets written).
 */
import { startAgent } from "../../src/agent/agent.ts";
import { parseCommandLine } from "../../src/config/cli.ts";
import { createLogger } from "../../src/core/logger.ts";
import { routeGrpcLogs } from "../../src/proto/grpc-logging.ts";
import { emit, type Fields, serveCommands } from "./worker-channel.ts";

export interface AgentHostArgs {
  /** `bgproxy agent` flags. */
  argv: string[];
}

export async function runAgentHost(args: AgentHostArgs): Promise<void> {
  const invocation = parseCommandLine(["agent", ...args.argv], process.env);
  if (invocation.kind !== "agent") throw new Error(`not an agent command line: ${invocation.kind}`);
  const { config } = invocation;
  const root = createLogger({
    level: config.log.level,
    human: false,
    write: (line) => process.stderr.write(`${line}\n`),
  });
  routeGrpcLogs(root.child({ component: "grpc" }));
  const agent = await startAgent(config, root);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    agent.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  serveCommands(
    {
      status: (): Fields => {
        const s = agent.status();
        let buffered = 0;
        let maxBuffered = 0;
        let bytesUp = 0;
        let bytesDown = 0;
        let relaying = 0;
        let bridging = 0;
        let bridged = 0;
        let resumed = 0;
        let messagesUp = 0;
        let readsUp = 0;
        for (const x of s.sessions) {
          buffered += x.bufferedBytes;
          maxBuffered = Math.max(maxBuffered, x.bufferedBytes);
          bytesUp += x.bytesUp;
          bytesDown += x.bytesDown;
          messagesUp += x.messagesUp;
          readsUp += x.readsUp ?? 0;
          if (x.state === "relaying") relaying++;
          if (x.state === "bridging") bridging++;
          bridged += x.bridge?.bridged ?? 0;
          resumed += x.bridge?.resumed ?? 0;
        }
        return {
          sessions: s.sessions.length,
          relaying,
          bridging,
          bridged,
          resumed,
          bufferedBytes: buffered,
          maxSessionBufferedBytes: maxBuffered,
          bytesUp,
          bytesDown,
          messagesUp,
          readsUp,
          control: s.control.state,
          poolConnections: s.pool.connections,
        };
      },
    },
    stop,
  );
  emit("ready", { listening: agent.listening, instance: agent.instance });
}
