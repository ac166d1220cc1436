import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { RepeatedLog } from "../core/repeated-log.ts";

/**
 * grpc-js refuses a message over its size limit (4 MiB received) by ending the call with
 * RESOURCE_EXHAUSTED, below every handler and interceptor: nothing would be logged. This
 * watches the status each HTTP/2 stream ends with and logs those refusals (first at once,
 * then a count per interval per peer address). Like flow-control.ts it reaches into
 * grpc-js's `http2Servers` map; if a grpc-js upgrade removes it, a warning says so.
 */
const RESOURCE_EXHAUSTED = 8;
/** grpc-js's words for a size refusal (ours for throttled logins say something else). */
const OVERSIZE = /larger than/;

type Trailers = Record<string, unknown>;

function statusOf(headers: Trailers | undefined): { code: number; message: string } | undefined {
  const code = headers?.["grpc-status"];
  if (code === undefined) return undefined;
  const raw = String(headers?.["grpc-message"] ?? "");
  let message = raw;
  try {
    message = decodeURIComponent(raw);
  } catch {
    // keep it as sent
  }
  return { code: Number(code), message };
}

export function logOversizedMessages(server: grpc.Server, logger: Logger, clock: Clock): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn("cannot log oversized gRPC messages: they are refused silently");
    return false;
  }
  const log = new RepeatedLog(logger, clock);
  const watch = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const seen = (h: Trailers | undefined) => {
      const status = statusOf(h);
      if (status?.code !== RESOURCE_EXHAUSTED || !OVERSIZE.test(status.message)) return;
      const peer = `${stream.session?.socket?.remoteAddress ?? "?"}`;
      log.warn(peer, "refused an oversized gRPC message", {
        peer: `${peer}:${stream.session?.socket?.remotePort ?? 0}`,
        path: headers[":path"] ?? "",
        details: status.message,
      });
    };
    const respond = stream.respond.bind(stream);
    stream.respond = (h, options) => {
      seen(h as Trailers);
      respond(h, options);
    };
    const sendTrailers = stream.sendTrailers.bind(stream);
    stream.sendTrailers = (h) => {
      seen(h as Trailers);
      sendTrailers(h);
    };
  };
  for (const h2 of servers.keys() as IterableIterator<Http2Server>)
    h2.prependListener("stream", watch);
  return true;
}
