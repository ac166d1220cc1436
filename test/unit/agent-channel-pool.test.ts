import { describe, expect, mock, test } from "bun:test";
import { connectivityState as ConnectivityState } from "@grpc/grpc-js";
import { ChannelPool, type PooledChannel } from "../../src/agent/channel-pool.ts";
import { silentLogger } from "../../src/core/logger.ts";
import type { ProxyClient } from "../../src/proto/service.ts";
import { captureLogs } from "../support/log-capture.ts";

interface FakeClient {
  n: number;
  close: ReturnType<typeof mock>;
}

function setup(multi: number) {
  const clients: FakeClient[] = [];
  const factory = () => {
    const client: FakeClient = { n: clients.length + 1, close: mock(() => {}) };
    clients.push(client);
    return client as unknown as ProxyClient;
  };
  const pool = new ChannelPool(factory, multi, silentLogger);
  return { pool, clients };
}

function clientOf(ch: PooledChannel): FakeClient {
  return ch.client as unknown as FakeClient;
}

describe("ChannelPool", () => {
  test("--multi 2: five streams open three connections, filled two by two", () => {
    const { pool, clients } = setup(2);
    const chans = Array.from({ length: 5 }, () => pool.acquire());
    expect(clients).toHaveLength(3);
    expect(pool.stats).toEqual({ connections: 3, streams: [2, 2, 1] });
    expect(chans.map((c) => c.id)).toEqual([1, 1, 2, 2, 3]);
    expect(chans.map((c) => clientOf(c).n)).toEqual([1, 1, 2, 2, 3]);
    for (const c of clients) expect(c.close).not.toHaveBeenCalled();
  });

  test("a new stream goes to the least loaded connection with room", () => {
    const { pool, clients } = setup(3);
    const a = [pool.acquire(), pool.acquire(), pool.acquire()];
    pool.acquire(); // connection 2
    a[0]?.release();
    a[1]?.release();
    expect(pool.stats.streams).toEqual([1, 1]);
    expect(pool.acquire().id).toBe(1); // tie: the first
    expect(pool.acquire().id).toBe(2); // 1 < 2: not simply the first with room
    expect(pool.stats.streams).toEqual([2, 2]);
    expect(clients).toHaveLength(2);
  });

  test("the last stream of a connection closes it, unless it is the only idle one", () => {
    const { pool, clients } = setup(1);
    const x = pool.acquire();
    const y = pool.acquire();
    x.release();
    expect(pool.stats).toEqual({ connections: 2, streams: [0, 1] });
    expect(clients[0]?.close).not.toHaveBeenCalled();
    y.release();
    expect(pool.stats).toEqual({ connections: 1, streams: [0] });
    expect(clients[1]?.close).toHaveBeenCalledTimes(1);
    expect(clients[0]?.close).not.toHaveBeenCalled();
    // The warm connection is reused: no new client.
    expect(pool.acquire().id).toBe(1);
    expect(clients).toHaveLength(2);
  });

  test("releasing twice frees one slot only", () => {
    const { pool } = setup(2);
    const a = pool.acquire();
    pool.acquire();
    a.release();
    a.release();
    expect(pool.stats.streams).toEqual([1]);
    pool.acquire();
    expect(pool.stats).toEqual({ connections: 1, streams: [2] });
  });

  test("close() closes every connection; later releases are harmless, acquires refused", () => {
    const { pool, clients } = setup(1);
    const chans = [pool.acquire(), pool.acquire(), pool.acquire()];
    pool.close();
    for (const c of clients) expect(c.close).toHaveBeenCalledTimes(1);
    expect(pool.stats.connections).toBe(0);
    for (const ch of chans) expect(() => ch.release()).not.toThrow();
    for (const c of clients) expect(c.close).toHaveBeenCalledTimes(1);
    expect(() => pool.acquire()).toThrow("channel pool closed");
    expect(clients).toHaveLength(3);
  });

  test("streams per connection must be a positive integer", () => {
    const factory = () => ({ close() {} }) as unknown as ProxyClient;
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ChannelPool(factory, bad, silentLogger)).toThrow(RangeError);
    }
    expect(() => new ChannelPool(factory, 1, silentLogger)).not.toThrow();
  });

  test("opening and closing connections is logged at debug with the count", () => {
    const logs = captureLogs();
    const pool = new ChannelPool(() => ({ close() {} }) as unknown as ProxyClient, 1, logs.logger);
    const a = pool.acquire();
    const b = pool.acquire();
    a.release();
    b.release();
    expect(logs.find("opened gRPC connection")).toMatchObject([
      { level: "debug", connection: 1, connections: 1 },
      { level: "debug", connection: 2, connections: 2 },
    ]);
    expect(logs.find("closed spare gRPC connection")).toMatchObject([
      { level: "debug", connection: 2, connections: 1 },
    ]);
  });
});

describe("ChannelPool: a broken connection", () => {
  test("gets no new stream: a router waiting dials a fresh connection at once", () => {
    const states = new Map<number, number>();
    const clients: (FakeClient & { getChannel: () => unknown })[] = [];
    const factory = () => {
      const n = clients.length + 1;
      const client = {
        n,
        close: mock(() => {}),
        getChannel: () => ({
          getConnectivityState: () => states.get(n) ?? ConnectivityState.READY,
        }),
      };
      clients.push(client);
      return client as unknown as ProxyClient;
    };
    const pool = new ChannelPool(factory, 2, silentLogger);
    const a = pool.acquire();
    a.release();
    states.set(1, ConnectivityState.TRANSIENT_FAILURE);
    const b = pool.acquire();
    expect(clientOf(b).n).toBe(2);
    expect(clients[0]?.close).toHaveBeenCalledTimes(1);
    expect(pool.stats).toEqual({ connections: 1, streams: [1] });
  });
});
