import type { HostPort } from "../config/types.ts";
import { BgpProxyError } from "../core/errors.ts";

/**
 * The gateway's HTTP API. Handlers only read: each route renders a snapshot through a pure
 * function; `?pretty` indents the JSON.
 */
export type Route = () => unknown;

export interface HttpApi {
  readonly port: number;
  close(): void;
}

export function jsonResponse(body: unknown, pretty: boolean, status = 200): Response {
  return new Response(`${JSON.stringify(body, null, pretty ? 2 : undefined)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

export function startHttpApi(listen: HostPort, routes: Record<string, Route>): HttpApi {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: listen.host,
      port: listen.port,
      fetch(req) {
        const url = new URL(req.url);
        const pretty = url.searchParams.has("pretty");
        if (req.method !== "GET") return jsonResponse({ error: "method not allowed" }, pretty, 405);
        const route = routes[url.pathname];
        if (!route)
          return jsonResponse({ error: `no such endpoint: ${url.pathname}` }, pretty, 404);
        return jsonResponse(route(), pretty);
      },
    });
  } catch (err) {
    throw new BgpProxyError(
      "config",
      `cannot listen for HTTP on ${listen.host}:${listen.port}: ${(err as Error).message}`,
      {
        retryable: false,
        cause: err,
      },
    );
  }
  return {
    port: server.port ?? listen.port,
    close: () => void server.stop(true),
  };
}
