import { connect, type Socket } from "node:net";
import type { HostPort } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import { BgpProxyError } from "../core/errors.ts";

/**
 * A TCP connection to the BGP daemon a device's sessions are forwarded to, optionally from
 * a given local address (the daemon's neighbour address for the gateway).
 */
export const FORWARD_CONNECT_TIMEOUT_MS = 10_000;

export function connectForward(
  forward: HostPort,
  source: string | undefined,
  timeoutMs = FORWARD_CONNECT_TIMEOUT_MS,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: forward.host,
      port: forward.port,
      ...(source ? { localAddress: source } : {}),
      allowHalfOpen: true,
      noDelay: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new BgpProxyError(
          "transport",
          `connect to ${hostPort(forward.host, forward.port)} timed out`,
        ),
      );
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.pause();
      resolve(socket);
    });
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new BgpProxyError(
          "transport",
          `connect to ${hostPort(forward.host, forward.port)}${source ? ` from ${source}` : ""}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      );
    };
    socket.once("error", onError);
  });
}
