import { createServer, isIP, type Server, type Socket } from "node:net";
import type { HostPort } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import { BgpProxyError } from "../core/errors.ts";

/**
 * A router-facing TCP listener. Accepted sockets start paused (no byte is read before the
 * gateway has admitted the router) and half-open capable (a router's FIN travels on as a
 * half-close). An IPv6 listener is v6-only, so 0.0.0.0:179 and [::]:179 both bind.
 */
export class RouterListener {
  private constructor(
    private readonly server: Server,
    readonly requested: HostPort,
    readonly bound: HostPort,
  ) {}

  static bind(address: HostPort, onConnection: (socket: Socket) => void): Promise<RouterListener> {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, onConnection);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.close();
        reject(bindError(address, err));
      };
      server.once("error", onError);
      server.listen(
        {
          host: address.host,
          port: address.port,
          ipv6Only: isIP(address.host) === 6,
          backlog: 1024,
        },
        () => {
          server.off("error", onError);
          const a = server.address();
          const port = a && typeof a === "object" ? a.port : address.port;
          resolve(new RouterListener(server, address, { host: address.host, port }));
        },
      );
    });
  }

  /** The listening socket's file descriptor, for TCP-MD5 keys (undefined if not reachable). */
  get fd(): number | undefined {
    const fd = (this.server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }

  /** The bound address and its family, as the socket reports them. */
  get address(): { address: string; family: 4 | 6 } {
    const a = this.server.address();
    const address = a && typeof a === "object" ? a.address : this.bound.host;
    return { address, family: isIP(address) === 6 ? 6 : 4 };
  }

  /** "host:port" as bound (the real port when 0 was asked for). */
  get label(): string {
    return hostPort(this.bound.host, this.bound.port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function bindError(address: HostPort, err: NodeJS.ErrnoException): BgpProxyError {
  const where = hostPort(address.host, address.port);
  const hint =
    err.code === "EACCES"
      ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
      : err.code === "EADDRINUSE"
        ? " (another process, e.g. a BGP daemon, holds this port)"
        : err.code === "EADDRNOTAVAIL"
          ? " (no interface has this address)"
          : "";
  return new BgpProxyError(
    "config",
    `cannot listen on ${where}: ${err.code ?? err.message}${hint}`,
    {
      retryable: false,
      cause: err,
    },
  );
}
