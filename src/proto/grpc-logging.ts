import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";

/**
 * grpc-js writes its own errors (a proxy refusing CONNECT, a failed TLS handshake) straight
 * to stderr. Route them through our logger instead, so they are JSON lines like the rest,
 * tagged `component=grpc`, and redacted.
 */
export function routeGrpcLogs(logger: Logger): void {
  const text = (args: unknown[]) =>
    args.map((a) => (typeof a === "string" ? a : String(a))).join(" ");
  grpc.setLogger({
    error: (...args: unknown[]) => logger.warn(text(args)),
    info: (...args: unknown[]) => logger.debug(text(args)),
    debug: (...args: unknown[]) => logger.trace(text(args)),
  } as Partial<Console> as Console);
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
}
