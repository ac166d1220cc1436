#!/usr/bin/env bun
import { startAgent } from "./agent/agent.ts";
import { type Invocation, printHelp, readCommandLine } from "./config/cli.ts";
import type { LogConfig } from "./config/types.ts";
import { BgpProxyError, ConfigError, errorMessage } from "./core/errors.ts";
import { createLogger, type Logger } from "./core/logger.ts";
import { type RunningGateway, startGateway } from "./gateway/gateway.ts";
import { routeGrpcLogs } from "./proto/grpc-logging.ts";
import { startStandalone } from "./standalone.ts";
import { version } from "./version.ts";

/** Exit codes: 0 done, 1 failed while running, 2 bad command line or configuration. */
function die(message: string, code: 1 | 2): never {
  process.stderr.write(`bgproxy: ${message.replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(code);
}

/**
 * Signals are caught from the very start. Reading a big gateway file takes a while (about
 * a second for 100,000 devices) and is synchronous: a SIGTERM that arrives meanwhile is
 * noted and acted on as soon as the reading is done, rather than killing the process
 * half-way (exit 143). `onSignal` is replaced once a role is running.
 */
let pendingSignal: string | undefined;
let onSignal = (signal: string) => {
  pendingSignal ??= signal;
};
process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));

function readInvocation(): Invocation {
  try {
    return readCommandLine();
  } catch (err) {
    if (err instanceof ConfigError) die(err.message, 2);
    throw err;
  }
}

/** Starts a role and keeps it until SIGINT/SIGTERM, then closes it and exits 0. */
async function run(
  log: LogConfig,
  role: string,
  start: (logger: Logger) => Promise<{ close(): Promise<void> }>,
): Promise<void> {
  const root = createLogger({ level: log.level, human: log.human });
  const logger = root.child({ component: "main" });
  routeGrpcLogs(root.child({ component: "grpc" }));
  // A signal that arrives while the role is starting stops it as soon as it is up,
  // instead of killing the process half-way.
  let running: { close(): Promise<void> } | undefined;
  let stoppingAt: number | undefined;
  const stop = (signal: string) => {
    if (!running) {
      pendingSignal ??= signal;
      return;
    }
    // One Ctrl-C often arrives twice (from the terminal and from npm): only a later one forces.
    if (stoppingAt !== undefined && Date.now() - stoppingAt < 1_000) return;
    if (stoppingAt !== undefined) {
      logger.warn("second signal: exiting without waiting", { signal });
      process.exit(1);
    }
    stoppingAt = Date.now();
    logger.info("stopping", { signal });
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error("close failed", { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  onSignal = stop;
  // Let a signal that came during the (synchronous) config load be delivered first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (pendingSignal) {
    logger.info("stopped before starting", { signal: pendingSignal });
    process.exit(0);
  }
  try {
    running = await start(root);
  } catch (err) {
    if (err instanceof ConfigError) die(err.message, 2);
    // A missing kernel feature or capability (e.g. for TCP-MD5): one line naming it.
    if (err instanceof BgpProxyError && err.kind === "unsupported") die(err.message, 1);
    logger.error(`${role} failed to start`, { error: errorMessage(err) });
    process.exit(1);
  }
  if (pendingSignal) stop(pendingSignal);
}

const invocation = readInvocation();
switch (invocation.kind) {
  case "help":
    printHelp(invocation.role);
    process.exit(invocation.exitCode);
    break;
  case "version":
    process.stdout.write(`bgproxy ${version}\n`);
    process.exit(0);
    break;
  case "agent":
    await run(invocation.config.log, "agent", (l) => startAgent(invocation.config, l));
    break;
  case "gateway": {
    const { config, reread } = invocation;
    let gateway: RunningGateway | undefined;
    // SIGHUP (systemctl reload, OpenRC/procd reload): re-read the file, apply what changed.
    process.on("SIGHUP", () => gateway?.reload());
    await run(config.log, "gateway", async (l) => {
      gateway = await startGateway(config, l, { readConfig: reread });
      return gateway;
    });
    break;
  }
  case "standalone":
    await run(invocation.config.agent.log, "standalone", (l) =>
      startStandalone(invocation.config, l),
    );
    break;
}
