import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";

/**
 * Channel credentials that close the TCP connections grpc-js abandons. When a channel is
 * closed while its connection is still in the HTTP/2 (or TLS) handshake — a gateway, load
 * balancer or proxy that accepts TCP and then says nothing — grpc-js drops the subchannel
 * but never closes that socket: without this, every watchdog redial would leak one. grpc-js
 * tells the subchannel's connector when it drops it (`destroy()`, after which the
 * subchannel is never used again); sockets of that connector still open `graceMs` later
 * (time for a graceful HTTP/2 close) are destroyed.
 *
 * Wraps grpc-js's `_createSecureConnector` (grpc-js 1.14): underscore API, pinned version.
 */
type SecureConnector = ReturnType<grpc.ChannelCredentials["_createSecureConnector"]>;
type ConnectorArgs = Parameters<grpc.ChannelCredentials["_createSecureConnector"]>;

export const ABANDONED_CONNECTION_GRACE_MS = 2_000;

export class ReapingCredentials extends grpc.ChannelCredentials {
  constructor(
    private readonly inner: grpc.ChannelCredentials,
    private readonly graceMs = ABANDONED_CONNECTION_GRACE_MS,
  ) {
    super();
  }

  _isSecure(): boolean {
    return this.inner._isSecure();
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override compose(callCredentials: grpc.CallCredentials): grpc.ChannelCredentials {
    return new ReapingCredentials(this.inner.compose(callCredentials), this.graceMs);
  }

  _createSecureConnector(...args: ConnectorArgs): SecureConnector {
    const connector = this.inner._createSecureConnector(...args);
    const sockets = new Set<Socket>();
    const track = (socket: Socket) => {
      if (socket.destroyed || sockets.has(socket)) return;
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    };
    return {
      connect: async (socket) => {
        track(socket);
        const result = await connector.connect(socket);
        track(result.socket); // the TLS socket over it, when secure
        return result;
      },
      waitForReady: () => connector.waitForReady(),
      getCallCredentials: () => connector.getCallCredentials(),
      destroy: () => {
        connector.destroy();
        if (sockets.size === 0) return;
        const timer = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
          sockets.clear();
        }, this.graceMs);
        timer.unref?.();
      },
    };
  }
}
