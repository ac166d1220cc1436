import type { Http2Server, Http2Session } from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";

/**
 * HTTP/2 flow-control windows for agent connections. grpc-js servers keep the protocol's
 * 64 KiB default per stream, which caps one relayed session at 64 KiB per round trip (about
 * 1.3 MB/s at 50 ms): a full table from a distant agent would crawl. grpc-js has no server
 * option for it, so each new HTTP/2 session is given larger windows here. This reaches into
 * grpc-js's `http2Servers` map; if a grpc-js upgrade removes it, a warning says so.
 */
export const SERVER_FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

export function raiseFlowControlWindows(
  server: grpc.Server,
  logger: Logger,
  bytes = SERVER_FLOW_CONTROL_WINDOW,
): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn(
      "cannot raise HTTP/2 flow-control windows: one stream is limited to 64 KiB in flight",
    );
    return false;
  }
  for (const h2 of servers.keys() as IterableIterator<Http2Server>) {
    h2.on("session", (session: Http2Session) => {
      session.setLocalWindowSize(bytes);
      session.settings({ initialWindowSize: bytes });
    });
  }
  return true;
}
