import type { Http2Server, Http2Session } from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";

/**
 * HTTP/2 flow-control windows for agent connections. grpc-js servers keep the protocol's
 * 64 KiB default per stream, which caps one relayed session at 64 KiB per round trip (about
 * 1.3 MB/s at 50 ms): a full table from a distant agent would crawl. grpc-js has no server
 * option for it, so each new HTTP/2 session is given larger windows here. This reaches into
 * grpc-js's `http2Servers` map; if a grpc-js upgrade removes it, a warning says so.
 *
 * The stream window is also what one session can hold at the gateway while its far end
 * reads slowly (the read gate makes the window follow consumption), and a stream held that
 * way must not starve the other streams of its connection. Measured under Bun 1.4.5 (see
 * DEVELOPERS.md): with 8 MiB for both, or with a 32 MiB connection window over 2 MiB
 * streams, one stalled session stopped every other session on its connection; with 2 MiB
 * for both the others ran at full speed, most of the time: Bun hands the connection window
 * back only as streams resume reading, so several stalled streams could still use it up.
 * The read gate now tops the connection window up while it holds a stream
 * (src/relay/http2-read-gate.ts), so each stalled session holds at most its stream window.
 */
export const SERVER_STREAM_WINDOW = 2 * 1024 * 1024;
export const SERVER_CONNECTION_WINDOW = 2 * 1024 * 1024;

/*
 * A stream window that adapted (small while a stream of the connection is held back, doubling
 * while the streams keep up) was built and measured in session 6 and removed: the slow far
 * end moved by 1-2 MiB at most, and with 256 KiB at the bottom the component test "3 stalled
 * session(s) do not stop another one" failed 5 of 5 runs (DEVELOPERS.md, "Data path: slow
 * far end memory (session 6)").
 */
export function raiseFlowControlWindows(
  server: grpc.Server,
  logger: Logger,
  stream = SERVER_STREAM_WINDOW,
  connection = SERVER_CONNECTION_WINDOW,
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
      session.setLocalWindowSize(connection);
      session.settings({ initialWindowSize: stream });
    });
  }
  return true;
}
