import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { GatewayConfig } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { BgpProxyError } from "../core/errors.ts";
import { transportKeepalive } from "../proto/transport-liveness.ts";

/**
 * The gRPC server agents dial (ProxyService, ResumeService): its options, its TLS
 * credentials, binding it to the configured address and shutting it down. The services on
 * it and what guards it are set up by gateway.ts.
 */

/** How long a stop waits for the agents' calls to end before it forces the server down. */
export const AGENT_SERVER_SHUTDOWN_MS = 2_000;

/** The gRPC server's options (pure): keepalive as long as the sessions tolerate. */
export function gatewayServerOptions(): grpc.ServerOptions {
  const keepalive = transportKeepalive();
  return {
    "grpc.keepalive_time_ms": keepalive.timeMs,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_concurrent_streams": 1000,
    // Nothing reads channelz; with it on, every call and stream carries trackers and closures.
    "grpc.enable_channelz": 0,
  };
}

function serverCredentials(config: GatewayConfig): grpc.ServerCredentials {
  if (config.insecure) return grpc.ServerCredentials.createInsecure();
  if (!config.tlsCert || !config.tlsKey) {
    throw new BgpProxyError("config", "TLS needs --tls-cert and --tls-key (or --insecure)", {
      retryable: false,
    });
  }
  return grpc.ServerCredentials.createSsl(
    null,
    [{ cert_chain: readFileSync(config.tlsCert), private_key: readFileSync(config.tlsKey) }],
    false,
  );
}

/** Binds `server` to `config.listen` with the configured credentials; resolves to the port. */
export function listenForAgents(server: grpc.Server, config: GatewayConfig): Promise<number> {
  const where = hostPort(config.listen.host, config.listen.port);
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(where, serverCredentials(config), (err, bound) => {
      if (err) {
        reject(
          new BgpProxyError("config", `cannot listen for agents on ${where}: ${err.message}`, {
            retryable: false,
            cause: err,
          }),
        );
      } else resolve(bound);
    });
  });
}

/**
 * Shuts `server` down gracefully, forced after AGENT_SERVER_SHUTDOWN_MS on `clock`;
 * resolves to whether it had to be forced.
 */
export function shutDownAgentServer(
  server: Pick<grpc.Server, "tryShutdown" | "forceShutdown">,
  clock: Clock,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = clock.schedule(AGENT_SERVER_SHUTDOWN_MS, () => {
      server.forceShutdown();
      resolve(true);
    });
    server.tryShutdown(() => {
      timer.cancel();
      resolve(false);
    });
  });
}
