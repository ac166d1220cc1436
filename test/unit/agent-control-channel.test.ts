import { describe, expect, mock, test } from "bun:test";
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import {
  CONTROL_REQUEST_TIMEOUT_MS,
  ControlChannel,
  type ControlChannelOptions,
} from "../../src/agent/control-channel.ts";
import { Backoff } from "../../src/core/backoff.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
  type FiveTuple,
} from "../../src/proto/messages.ts";
import type { ProxyClient } from "../../src/proto/service.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const AUTH_MSG = "the gateway refused the agent's credentials (check --email/--token)";

/** The client side of a Control stream, driven by the test. */
class FakeCall extends EventEmitter {
  readonly writes: ControlRequest[] = [];
  writableEnded = false;
  readonly write = mock((req: ControlRequest) => {
    this.writes.push(req);
    return true;
  });
  readonly end = mock(() => {
    this.writableEnded = true;
  });
  readonly cancel = mock(() => {});

  requests(): ControlRequest[] {
    return this.writes.filter((w) => w.action !== ControlAction.KEEPALIVE);
  }
  keepalives(): ControlRequest[] {
    return this.writes.filter((w) => w.action === ControlAction.KEEPALIVE);
  }
  ready(): void {
    this.emit("metadata", new grpc.Metadata());
  }
  answer(r: ControlResponse): void {
    this.emit("data", r);
  }
  fail(code: grpc.status, message = `${code} ${grpc.status[code]}`): void {
    this.emit("error", Object.assign(new Error(message), { code, details: message }));
  }
}

interface FakeClient {
  call: FakeCall;
  metadata: grpc.Metadata | undefined;
  close: ReturnType<typeof mock>;
}

const tuple: FiveTuple = {
  proto: "BGP",
  deviceIp: "192.0.2.1",
  devicePort: 40_001,
  proxyIp: "198.51.100.1",
  proxyPort: 179,
};

function response(t: FiveTuple, overrides: Partial<ControlResponse> = {}): ControlResponse {
  return {
    ...t,
    ttlSeconds: 60,
    ttlCounter: 0,
    action: ControlAction.UNSPECIFIED,
    metadata: [],
    companyId: 1,
    deviceId: 7,
    deviceName: "r1",
    tcpMd5: new Uint8Array(0),
    ...overrides,
  };
}

const KEEPALIVE: ControlResponse = response(
  { proto: "", deviceIp: "", devicePort: 0, proxyIp: "", proxyPort: 0 },
  { action: ControlAction.KEEPALIVE, ttlSeconds: 0 },
);

function setup(overrides: Partial<ControlChannelOptions> = {}) {
  const clock = new ManualClock();
  const logs = captureLogs();
  const clients: FakeClient[] = [];
  const onPush = mock((_r: ControlResponse) => {});
  const md = new grpc.Metadata();
  md.set("sid", "3");
  const channel = new ControlChannel({
    newClient: () => {
      const client: FakeClient = {
        call: new FakeCall(),
        metadata: undefined,
        close: mock(() => {}),
      };
      const fake = {
        close: client.close,
        control: (m?: grpc.Metadata) => {
          client.metadata = m;
          return client.call;
        },
      };
      clients.push(client);
      return fake as unknown as ProxyClient;
    },
    metadata: () => md,
    clock,
    logger: logs.logger,
    heartbeat: { intervalMs: 10_000, timeoutMs: 30_000 },
    onPush,
    // random 0: delays of 500, 1000, 2000 ... ms
    backoff: new Backoff({
      initialMs: 1_000,
      maxMs: 60_000,
      multiplier: 2,
      jitter: 0.5,
      random: () => 0,
    }),
    ...overrides,
  });
  const current = (): FakeCall => {
    const c = clients.at(-1)?.call;
    if (!c) throw new Error("no client yet");
    return c;
  };
  return { clock, logs, clients, onPush, channel, current, md };
}

describe("ControlChannel: connecting and requests", () => {
  test("start() opens one stream with the call metadata; its headers make it ready", () => {
    const { channel, clients, current, md } = setup();
    expect(channel.state).toBe("idle");
    channel.start();
    channel.start();
    expect(clients).toHaveLength(1);
    expect(clients[0]?.metadata).toBe(md);
    expect(channel.state).toBe("connecting");
    expect(channel.status().connected).toBe(false);
    current().ready();
    expect(channel.state).toBe("ready");
    expect(channel.status()).toMatchObject({ state: "ready", connected: true, reconnects: 0 });
  });

  test("a request resolves on the response with its 5-tuple; others go to onPush", async () => {
    const { channel, current, onPush, clock } = setup();
    channel.start();
    current().ready();
    clock.advance(5);
    const p = channel.request(tuple);
    expect(current().requests()).toEqual([{ ...tuple, action: ControlAction.UNSPECIFIED }]);
    expect(channel.status().lastTx).toBe(clock.now());

    const other = response({ ...tuple, deviceIp: "192.0.2.99" });
    current().answer(other);
    expect(onPush).toHaveBeenCalledWith(other);

    const mine = response(tuple, { deviceName: "mine" });
    current().answer(mine);
    expect(await p).toBe(mine);
    expect(onPush).toHaveBeenCalledTimes(1);
    expect(channel.status().messagesRx).toBe(2);
    // Answered: a repeat of the same response is now unsolicited.
    current().answer(mine);
    expect(onPush).toHaveBeenCalledTimes(2);
  });

  test("an answer whose ports differ, or with no 5-tuple at all, still reaches the oldest request for it", async () => {
    const { channel, current, onPush } = setup();
    channel.start();
    current().ready();
    const first = channel.request(tuple);
    const second = channel.request({ ...tuple, deviceIp: "192.0.2.2" });
    const rewritten = response(
      { ...tuple, devicePort: 0, proxyPort: 0 },
      { deviceName: "rewritten" },
    );
    current().answer(rewritten);
    expect(await first).toBe(rewritten);
    const bare = response({ proto: "", deviceIp: "", devicePort: 0, proxyIp: "", proxyPort: 0 });
    current().answer(bare);
    expect(await second).toBe(bare);
    expect(onPush).not.toHaveBeenCalled();
  });

  test("concurrent requests for the same 5-tuple share one write and one answer", async () => {
    const { channel, current } = setup();
    channel.start();
    current().ready();
    const a = channel.request(tuple);
    const b = channel.request(tuple);
    const c = channel.request({ ...tuple, devicePort: 40_002 });
    expect(b).toBe(a);
    expect(current().requests()).toHaveLength(2);
    const r = response(tuple);
    current().answer(r);
    current().answer(response({ ...tuple, devicePort: 40_002 }));
    expect(await a).toBe(r);
    expect(await b).toBe(r);
    expect((await c).devicePort).toBe(40_002);
  });

  test("a request made before start() or while connecting is written on the stream", async () => {
    const { channel, current } = setup();
    const early = channel.request(tuple);
    channel.start();
    expect(current().requests()).toHaveLength(1);
    const during = channel.request({ ...tuple, devicePort: 2 });
    expect(current().requests()).toHaveLength(2);
    // A response before the headers also counts as the stream being up.
    current().answer(response(tuple));
    expect(channel.state).toBe("ready");
    await early;
    current().answer(response({ ...tuple, devicePort: 2 }));
    await during;
  });

  test("an unsolicited BLOCK_IP goes to onPush", () => {
    const { channel, current, onPush } = setup();
    channel.start();
    current().ready();
    const block = response(tuple, { action: ControlAction.BLOCK_IP, ttlSeconds: 1200 });
    current().answer(block);
    expect(onPush).toHaveBeenCalledTimes(1);
    expect(onPush.mock.calls[0]?.[0]).toBe(block);
  });

  test("a request with no answer times out with a retryable transport error", async () => {
    const { channel, current, clock, onPush } = setup({ requestTimeoutMs: 5_000 });
    channel.start();
    current().ready();
    const p = channel.request(tuple);
    let settled = false;
    p.then(
      () => {},
      () => {},
    ).finally(() => {
      settled = true;
    });
    clock.advance(4_999);
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BgpProxyError);
    expect(err).toMatchObject({ kind: "transport", retryable: true });
    expect((err as Error).message).toContain("192.0.2.1");
    // A late answer is no longer anyone's: it is a push.
    current().answer(response(tuple));
    expect(onPush).toHaveBeenCalledTimes(1);
    // A new request for the same tuple is written again.
    void channel.request(tuple).catch(() => {});
    expect(current().requests()).toHaveLength(2);
    channel.close();
  });

  test("the default request timeout is 15 s", async () => {
    expect(CONTROL_REQUEST_TIMEOUT_MS).toBe(15_000);
    const { channel, current, clock } = setup();
    channel.start();
    current().ready();
    current().answer(KEEPALIVE);
    const p = channel.request(tuple);
    const outcome = p.then(
      () => "resolved",
      (e: BgpProxyError) => e.kind,
    );
    clock.advance(14_999);
    current().answer(KEEPALIVE); // keep the watchdog quiet
    clock.advance(1);
    expect(await outcome).toBe("transport");
  });
});

describe("ControlChannel: heartbeat and watchdog", () => {
  test("a keepalive goes out every interval while ready, and its answer gives the RTT", () => {
    const { channel, current, clock } = setup();
    channel.start();
    current().ready();
    clock.advance(9_999);
    expect(current().keepalives()).toHaveLength(0);
    clock.advance(1);
    expect(current().keepalives()).toEqual([
      { proto: "", deviceIp: "", devicePort: 0, proxyIp: "", proxyPort: 0, action: 2 },
    ]);
    clock.advance(37);
    current().answer(KEEPALIVE);
    expect(channel.status().lastRttMs).toBe(37);
    expect(channel.status().lastRx).toBe(clock.now());
    clock.advance(10_000 - 37);
    expect(current().keepalives()).toHaveLength(2);
    clock.advance(120);
    current().answer(KEEPALIVE);
    expect(channel.status().lastRttMs).toBe(120);
    // An extra keepalive answer with none outstanding does not change the RTT.
    clock.advance(500);
    current().answer(KEEPALIVE);
    expect(channel.status().lastRttMs).toBe(120);
    expect(channel.state).toBe("ready");
  });

  test("silence for timeoutMs cancels the stream and redials after the backoff", () => {
    const { channel, clients, current, clock, logs } = setup();
    channel.start();
    current().ready();
    const first = current();
    clock.advance(29_999);
    expect(channel.state).toBe("ready");
    expect(first.keepalives()).toHaveLength(2);
    expect(first.cancel).not.toHaveBeenCalled();
    clock.advance(1);
    expect(first.cancel).toHaveBeenCalledTimes(1);
    expect(clients[0]?.close).toHaveBeenCalledTimes(1);
    expect(channel.state).toBe("backoff");
    expect(channel.status()).toMatchObject({ connected: false, reconnects: 1 });
    expect(channel.status().lastError).toContain("no message from the gateway for 30000 ms");
    expect(logs.find(/^control stream down/)).toMatchObject([{ level: "warn", retry_in_ms: 500 }]);
    // Backoff: 500 ms with this policy, and no redial before.
    clock.advance(499);
    expect(clients).toHaveLength(1);
    clock.advance(1);
    expect(clients).toHaveLength(2);
    expect(channel.state).toBe("connecting");
    current().ready();
    expect(channel.state).toBe("ready");
  });

  test("any message from the gateway resets the watchdog", () => {
    const { channel, current, clock } = setup();
    channel.start();
    current().ready();
    clock.advance(25_000);
    current().answer(response({ ...tuple, devicePort: 9 })); // a push counts as a sign of life
    clock.advance(29_999);
    expect(channel.state).toBe("ready");
    // The watchdog looks at each heartbeat tick (every 10 s from the dial): the first tick
    // with 30 s of silence behind it is at 60 s.
    clock.advance(5_000);
    expect(channel.state).toBe("ready");
    clock.advance(1);
    expect(channel.state).toBe("backoff");
    expect(channel.status().lastError).toContain("no message from the gateway for 35000 ms");
  });

  test("a stream that never becomes ready is torn down too, without keepalives", () => {
    const { channel, current, clock } = setup();
    channel.start();
    clock.advance(29_999);
    expect(channel.state).toBe("connecting");
    expect(current().keepalives()).toHaveLength(0);
    clock.advance(1);
    expect(channel.state).toBe("backoff");
    expect(current().cancel).toHaveBeenCalledTimes(1);
  });

  test("the gateway ending the stream is a transport failure with the short backoff", () => {
    const { channel, clients, current, clock } = setup();
    channel.start();
    current().ready();
    current().emit("end");
    expect(channel.state).toBe("backoff");
    expect(channel.status().lastError).toBe("the gateway ended the Control stream");
    clock.advance(500);
    expect(clients).toHaveLength(2);
  });

  test("backoff grows while the stream keeps failing and resets after 30 s up", () => {
    const { channel, clients, current, clock, logs } = setup();
    const delays = () => logs.find(/^control stream down/).map((r) => r.retry_in_ms);
    channel.start();
    current().ready();
    current().fail(grpc.status.UNAVAILABLE);
    clock.advance(500);
    current().ready();
    current().fail(grpc.status.UNAVAILABLE);
    expect(delays()).toEqual([500, 1_000]);
    clock.advance(1_000);
    expect(clients).toHaveLength(3);
    current().ready();
    for (let i = 0; i < 4; i++) {
      clock.advance(8_000);
      current().answer(KEEPALIVE);
    }
    current().fail(grpc.status.UNAVAILABLE);
    expect(delays()).toEqual([500, 1_000, 500]);
  });

  test("events from a replaced stream are ignored", async () => {
    const { channel, current, clock, onPush } = setup();
    channel.start();
    current().ready();
    const old = current();
    const p = channel.request(tuple);
    old.fail(grpc.status.UNAVAILABLE);
    clock.advance(500);
    const fresh = current();
    expect(fresh).not.toBe(old);
    // The pending request is asked again on the new stream.
    expect(fresh.requests()).toEqual([{ ...tuple, action: ControlAction.UNSPECIFIED }]);
    old.answer(response(tuple));
    old.fail(grpc.status.INTERNAL);
    old.emit("end");
    expect(onPush).not.toHaveBeenCalled();
    expect(channel.state).toBe("connecting");
    expect(channel.status().reconnects).toBe(1);
    const r = response(tuple);
    fresh.answer(r);
    expect(await p).toBe(r);
  });
});

describe("ControlChannel: refused credentials", () => {
  test("UNAUTHENTICATED backs off long (21-30 s, then doubling), never in a tight loop", () => {
    const { channel, clients, current, clock, logs } = setup();
    channel.start();
    current().fail(grpc.status.UNAUTHENTICATED);
    expect(channel.state).toBe("backoff");
    expect(channel.status().lastError).toBe("credentials refused by the gateway");
    const refusals = () => logs.find(AUTH_MSG);
    expect(refusals()).toMatchObject([{ level: "error", grpc_code: 16 }]);
    const first = Number(refusals()[0]?.retry_in_ms);
    // 30 s with 30 % jitter.
    expect(first).toBeGreaterThanOrEqual(21_000);
    expect(first).toBeLessThanOrEqual(30_000);
    // The short backoff (500 ms) is not used: no redial until the long delay is over.
    clock.advance(first - 1);
    expect(clients).toHaveLength(1);
    clock.advance(1);
    expect(clients).toHaveLength(2);

    current().fail(grpc.status.UNAUTHENTICATED);
    const second = Number(refusals()[1]?.retry_in_ms);
    expect(second).toBeGreaterThanOrEqual(42_000);
    expect(second).toBeLessThanOrEqual(60_000);
    clock.advance(second - 1);
    expect(clients).toHaveLength(2);
    clock.advance(1);
    expect(clients).toHaveLength(3);
    expect(logs.find(/^control stream down/)).toHaveLength(0);
    channel.close();
  });

  test("PERMISSION_DENIED is treated as refused credentials too", () => {
    const { channel, current, logs } = setup({
      authBackoff: new Backoff({ initialMs: 30_000, maxMs: 600_000, multiplier: 2, jitter: 0 }),
    });
    channel.start();
    current().ready();
    current().fail(grpc.status.PERMISSION_DENIED);
    expect(logs.find(AUTH_MSG)).toMatchObject([{ retry_in_ms: 30_000, grpc_code: 7 }]);
    channel.close();
  });
});

describe("ControlChannel: close()", () => {
  test("close() rejects pending requests, tears the stream down and leaves no timer", async () => {
    const { channel, clients, current, clock } = setup();
    channel.start();
    current().ready();
    const a = channel.request(tuple);
    const b = channel.request({ ...tuple, devicePort: 2 });
    channel.close();
    for (const p of [a, b]) {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BgpProxyError);
      expect(err).toMatchObject({ kind: "transport", retryable: false });
    }
    expect(channel.state).toBe("closed");
    expect(current().cancel).toHaveBeenCalledTimes(1);
    expect(clients[0]?.close).toHaveBeenCalledTimes(1);
    expect(clock.pending).toBe(0);
    await expect(channel.request(tuple)).rejects.toMatchObject({
      kind: "transport",
      retryable: false,
    });
    expect(() => channel.close()).not.toThrow();
    expect(current().requests()).toHaveLength(2);
  });

  test("close() during backoff cancels the redial", () => {
    const { channel, clients, current, clock } = setup();
    channel.start();
    current().fail(grpc.status.UNAVAILABLE);
    channel.close();
    clock.advance(10 * 60_000);
    expect(clients).toHaveLength(1);
    expect(channel.state).toBe("closed");
    expect(clock.pending).toBe(0);
  });
});

describe("ControlChannel: a router waiting while the stream is down", () => {
  test("redials at once instead of waiting out the backoff", () => {
    const { channel, clients, clock } = setup({
      backoff: new Backoff({ initialMs: 30_000, maxMs: 60_000, multiplier: 2, jitter: 0 }),
    });
    channel.start();
    clients[0]?.call.fail(grpc.status.UNAVAILABLE);
    expect(channel.state).toBe("backoff");
    clock.advance(2_000);
    void channel.request(tuple).catch(() => {});
    expect(clients).toHaveLength(2);
    expect(channel.state).toBe("connecting");
    expect(clients[1]?.call.requests()).toHaveLength(1);
  });

  test("but not more than once a second, and never after refused credentials", () => {
    const { channel, clients, clock } = setup({
      backoff: new Backoff({ initialMs: 30_000, maxMs: 60_000, multiplier: 2, jitter: 0 }),
    });
    channel.start();
    clients[0]?.call.fail(grpc.status.UNAVAILABLE);
    void channel.request(tuple).catch(() => {});
    // Within a second of the last dial: wait for the backoff.
    expect(clients).toHaveLength(1);
    clock.advance(1_000);
    void channel.request({ ...tuple, devicePort: 2 }).catch(() => {});
    expect(clients).toHaveLength(2);
    clients[1]?.call.fail(grpc.status.UNAUTHENTICATED);
    clock.advance(5_000);
    void channel.request({ ...tuple, devicePort: 3 }).catch(() => {});
    expect(clients).toHaveLength(2);
  });
});
