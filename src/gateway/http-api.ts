import type { HostPort } from "../config/types.ts";
import { type HttpServer, jsonResponse, serveHttp } from "../core/http-server.ts";

/**
 * The gateway's HTTP API. Handlers only read: each GET route renders a snapshot through a
 * pure function — a value is sent as JSON (`?pretty` indents), a Response (HTML, Prometheus
 * text) as it is. POST routes (the OTLP receiver) take the request.
 */
export type Route = (req: Request) => unknown;
export type PostRoute = (req: Request) => Promise<Response>;

export type HttpApi = HttpServer;

export interface HttpApiOptions {
  readonly post?: Readonly<Record<string, PostRoute>>;
  /** Serve HTTPS with this PEM certificate chain and key. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** What the listener is for, in errors: "HTTP" by default. */
  readonly what?: string;
  readonly maxBodyBytes?: number;
  /** GET routes with parameters in the path (e.g. /api/devices/{name}/routes). */
  readonly match?: (pathname: string) => Route | undefined;
}

export function startHttpApi(
  listen: HostPort,
  routes: Readonly<Record<string, Route>>,
  options: HttpApiOptions = {},
): HttpApi {
  const post = options.post ?? {};
  return serveHttp({
    host: listen.host,
    port: listen.port,
    what: options.what ?? "HTTP",
    maxRequestBodySize: options.maxBodyBytes ?? 8 * 1024 * 1024,
    ...(options.tls ? { tls: options.tls } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      const pretty = url.searchParams.has("pretty");
      if (req.method === "POST") {
        const handler = post[url.pathname];
        if (handler) return handler(req);
      }
      const route = routes[url.pathname] ?? options.match?.(url.pathname);
      if (req.method !== "GET" && req.method !== "HEAD") {
        return route || post[url.pathname]
          ? jsonResponse({ error: "method not allowed" }, pretty, 405)
          : jsonResponse({ error: `no such endpoint: ${url.pathname}` }, pretty, 404);
      }
      if (!route) {
        return jsonResponse(
          { error: `no such endpoint: ${url.pathname}` },
          pretty,
          post[url.pathname] ? 405 : 404,
        );
      }
      const result = await route(req);
      return result instanceof Response ? result : jsonResponse(result, pretty);
    },
  });
}
