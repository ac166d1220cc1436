import { hostPort } from "./address.ts";
import { BgpProxyError } from "./errors.ts";

/**
 * The one wrapper around `Bun.serve` that the agent's status endpoint and the gateway's
 * HTTP API (and export listener) share: bind, turn a bind failure into a typed config
 * error naming the address (and the flags that set it), and stop on close.
 */
export interface HttpServer {
  /** The port as bound (the real one when 0 was asked for). */
  readonly port: number;
  close(): void;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /** What the listener is for, in errors: "status and metrics", "HTTP" ... */
  readonly what: string;
  /** The flags that set the address, in errors ("--metrics-addr/--metrics-port"). */
  readonly flags?: string;
  readonly fetch: (req: Request) => Response | Promise<Response>;
  /** Serve HTTPS with this PEM certificate chain and key. */
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly maxRequestBodySize?: number;
}

export function serveHttp(options: HttpServerOptions): HttpServer {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: options.host,
      port: options.port,
      ...(options.maxRequestBodySize !== undefined
        ? { maxRequestBodySize: options.maxRequestBodySize }
        : {}),
      ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
      fetch: options.fetch,
    });
  } catch (err) {
    const flags = options.flags ? ` (${options.flags})` : "";
    throw new BgpProxyError(
      "config",
      `cannot listen for ${options.what} on ${hostPort(options.host, options.port)}${flags}: ${(err as Error).message}`,
      { retryable: false, cause: err },
    );
  }
  return {
    port: server.port ?? options.port,
    close: () => void server.stop(true),
  };
}

/** A JSON response (`pretty` indents), never cached: status answers are of the moment. */
export function jsonResponse(body: unknown, pretty: boolean, status = 200): Response {
  return new Response(`${JSON.stringify(body, null, pretty ? 2 : undefined)}\n`, {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
