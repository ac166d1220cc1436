import { connectivityState } from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";
import type { ProxyClient } from "../proto/service.ts";

/**
 * `--multi N`: at most N Data streams share one HTTP/2 connection. The pool opens a new
 * connection when every open one is full, and closes a connection when its last stream
 * ends, keeping one warm so that the next router does not wait for a TLS handshake.
 */
export interface PooledChannel {
  readonly client: ProxyClient;
  readonly id: number;
  /** Give the stream slot back; call exactly once per acquire. */
  release(): void;
}

interface Connection {
  id: number;
  client: ProxyClient;
  streams: number;
  /** Seen in TRANSIENT_FAILURE while busy: no new streams. */
  broken?: boolean;
}

export class ChannelPool {
  private readonly connections: Connection[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly newClient: () => ProxyClient,
    private readonly streamsPerConnection: number,
    private readonly logger: Logger,
  ) {
    if (!Number.isInteger(streamsPerConnection) || streamsPerConnection < 1) {
      throw new RangeError("streams per connection must be a positive integer");
    }
  }

  /** A stream slot on the least loaded connection with room, opening one if none has. */
  acquire(): PooledChannel {
    if (this.closed) throw new Error("channel pool closed");
    this.dropBroken();
    let conn: Connection | undefined;
    for (const c of this.connections) {
      const room = !c.broken && c.streams < this.streamsPerConnection;
      if (room && (!conn || c.streams < conn.streams)) conn = c;
    }
    if (!conn) {
      conn = { id: this.nextId++, client: this.newClient(), streams: 0 };
      this.connections.push(conn);
      this.logger.debug("opened gRPC connection", {
        connection: conn.id,
        connections: this.connections.length,
      });
    }
    conn.streams++;
    const chosen = conn;
    let released = false;
    return {
      client: chosen.client,
      id: chosen.id,
      release: () => {
        if (released) return;
        released = true;
        this.release(chosen);
      },
    };
  }

  /**
   * A connection in TRANSIENT_FAILURE (the link broke; grpc-js redials it after its own
   * backoff, up to 30 s) would fail a new stream at once: idle ones are closed so that a
   * waiting router gets a fresh connection now, busy ones just get no new streams.
   */
  private dropBroken(): void {
    for (const c of [...this.connections]) {
      const state = c.client.getChannel?.().getConnectivityState(false);
      if (state !== connectivityState.TRANSIENT_FAILURE) continue;
      if (c.streams > 0) {
        c.broken = true; // closed when its last stream ends
        continue;
      }
      this.remove(c, "closed broken gRPC connection");
    }
  }

  private release(conn: Connection): void {
    conn.streams--;
    if (conn.streams > 0 || this.closed) return;
    if (conn.broken) {
      this.remove(conn, "closed broken gRPC connection");
      return;
    }
    const idle = this.connections.filter((c) => c.streams === 0);
    if (idle.length <= 1) return; // keep one warm connection
    this.remove(conn, "closed spare gRPC connection");
  }

  private remove(conn: Connection, why: string): void {
    const index = this.connections.indexOf(conn);
    if (index >= 0) this.connections.splice(index, 1);
    conn.client.close();
    this.logger.debug(why, { connection: conn.id, connections: this.connections.length });
  }

  /** Connections open now, and streams on each. */
  get stats(): { connections: number; streams: number[] } {
    return {
      connections: this.connections.length,
      streams: this.connections.map((c) => c.streams),
    };
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.splice(0)) c.client.close();
  }
}
