import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";

/**
 * Channel credentials that close the TCP connections grpc-js abandons. When a channel is
 * closed while its connection is still in the HTTP/2 (or TLS) handshake — a gateway, load
 * balancer or proxy that accepts TCP and then says nothing — grpc-js drops the subchannel
 * but never closes that socket: without this, every watchdog redial would leak one. grpc-js
 * tells the subchannel's connector when it drops it (`destroy()`, after which the
 * subchannel is never used again); sockets of that connector still open `graceMs` later
 * are destroyed — but only those that cannot carry a live stream:
 *
 * - a socket whose TLS handshake (`connect()`) never completed carries no HTTP/2 at all;
 * - any other socket only while its channel has no active call (`busy()` is false).
 *
 * grpc-js also destroys the connector of a subchannel that received a GOAWAY (an HAProxy
 * soft reload, a gateway's connection age) once its pool lets go of it, while that
 * connection still carries the agent's Control/Data streams; grpc-js has already asked the
 * session to close after its last stream. Such sockets are checked again every `graceMs`
 * and destroyed once the channel is idle, or forgotten when they close by themselves.
 * Under Bun's HTTP/2 the socket shows no sign of the session over it (`bytesRead` stays 0,
 * no `data` event), hence the channel-level `busy()`.
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
    /** Whether the channel using these credentials has an active call. */
    private readonly busy: () => boolean = () => false,
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
    return new ReapingCredentials(this.inner.compose(callCredentials), this.graceMs, this.busy);
  }

  _createSecureConnector(...args: ConnectorArgs): SecureConnector {
    const connector = this.inner._createSecureConnector(...args);
    const handshaking = new Set<Socket>(); // open, TLS (if any) not yet through
    const connected = new Set<Socket>(); // open, handed to grpc-js for HTTP/2
    const track = (socket: Socket, into: Set<Socket>) => {
      if (socket.destroyed) return;
      into.add(socket);
      socket.once("close", () => into.delete(socket));
    };
    const reap = () => {
      for (const socket of handshaking) socket.destroy();
      handshaking.clear();
      if (connected.size === 0) return;
      if (!this.busy()) {
        for (const socket of connected) socket.destroy();
        connected.clear();
        return;
      }
      schedule(); // a live stream may still run over them: look again later
    };
    const schedule = () => setTimeout(reap, this.graceMs).unref?.();
    return {
      connect: async (socket) => {
        track(socket, handshaking);
        const result = await connector.connect(socket);
        for (const s of new Set([socket, result.socket])) {
          handshaking.delete(s);
          track(s, connected); // the TLS socket over the TCP one, when secure
        }
        return result;
      },
      waitForReady: () => connector.waitForReady(),
      getCallCredentials: () => connector.getCallCredentials(),
      destroy: () => {
        connector.destroy();
        if (handshaking.size + connected.size > 0) schedule();
      },
    };
  }
}

/**
 * Counts a channel's active calls (started, no status yet) with a client interceptor, for
 * ReapingCredentials' `busy()`.
 */
export class ActiveCalls {
  private count = 0;

  get busy(): boolean {
    return this.count > 0;
  }

  readonly interceptor: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) => {
        this.count += 1;
        let ended = false;
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            if (!ended) {
              ended = true;
              this.count -= 1;
            }
            nextStatus(status);
          },
        });
      },
    });
}
