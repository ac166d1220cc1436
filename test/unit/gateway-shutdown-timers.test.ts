/**
 * The gateway's stop-time timers run on the injected clock: the wait for drained sessions
 * (`SessionDrain.ended`) and the forced shutdown of the agents' gRPC server.
 */
import { describe, expect, test } from "bun:test";
import { AGENT_SERVER_SHUTDOWN_MS, shutDownAgentServer } from "../../src/gateway/agent-server.ts";
import { DeviceRegistry } from "../../src/gateway/device-registry.ts";
import { sessionDrain } from "../../src/gateway/session-drain.ts";
import { SessionTable } from "../../src/gateway/session-table.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

/** Lets promise continuations (the `ended` loop between its polls) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function tableWithOneSession(): { table: SessionTable; release: () => void } {
  const [device] = new DeviceRegistry([
    { name: "r1", id: 1, site: 0, ip: "10.0.0.1", target: { kind: "collector" } },
  ]).all();
  if (!device) throw new Error("a device expected");
  const table = new SessionTable();
  const claimed = table.claim(device, "agent-A", "s1", { end() {}, restart: () => true });
  if (claimed.kind !== "claimed") throw new Error("claimed expected");
  return { table, release: () => claimed.claim.release() };
}

/** Starts `promise` and says whether it has resolved (and to what). */
function watch<T>(promise: Promise<T>): { value: () => T | undefined; done: () => boolean } {
  let done = false;
  let value: T | undefined;
  void promise.then((v) => {
    done = true;
    value = v;
  });
  return { value: () => value, done: () => done };
}

describe("SessionDrain.ended on the clock", () => {
  test("resolves at the first poll after the last session ended, not before", async () => {
    const clock = new ManualClock();
    const { table, release } = tableWithOneSession();
    const logs = captureLogs();
    const ended = watch(sessionDrain(table, logs.logger, clock).ended(10_000));
    clock.advance(500);
    await settle();
    expect(ended.done()).toBe(false);
    release();
    clock.advance(49);
    await settle();
    expect(ended.done()).toBe(false);
    clock.advance(1);
    await settle();
    expect(ended.done()).toBe(true);
    expect(clock.pending).toBe(0);
    expect(logs.find(/drain timed out/)).toHaveLength(0);
  });

  test("gives up at its deadline with sessions left, and says so", async () => {
    const clock = new ManualClock();
    const { table } = tableWithOneSession();
    const logs = captureLogs();
    const ended = watch(sessionDrain(table, logs.logger, clock).ended(1_000));
    for (let i = 0; i < 19; i++) {
      clock.advance(50);
      await settle();
    }
    expect(ended.done()).toBe(false);
    clock.advance(50);
    await settle();
    expect(ended.done()).toBe(true);
    expect(clock.pending).toBe(0);
    expect(logs.find(/drain timed out/)).toHaveLength(1);
  });
});

/** A gRPC server whose graceful shutdown completes only when the test says so. */
function fakeServer() {
  let finish: (() => void) | undefined;
  const server = {
    forced: 0,
    tryShutdown(callback: (error?: Error) => void) {
      finish = () => callback();
    },
    forceShutdown() {
      server.forced++;
    },
    finishGracefully: () => finish?.(),
  };
  return server;
}

describe("shutDownAgentServer on the clock", () => {
  test("forces the server down exactly at AGENT_SERVER_SHUTDOWN_MS", async () => {
    const clock = new ManualClock();
    const server = fakeServer();
    const shutdown = watch(shutDownAgentServer(server, clock));
    clock.advance(AGENT_SERVER_SHUTDOWN_MS - 1);
    await settle();
    expect(server.forced).toBe(0);
    expect(shutdown.value()).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(server.forced).toBe(1);
    expect(shutdown.value()).toBe(true);
  });

  test("a graceful shutdown in time cancels the forced one", async () => {
    const clock = new ManualClock();
    const server = fakeServer();
    const shutdown = watch(shutDownAgentServer(server, clock));
    clock.advance(AGENT_SERVER_SHUTDOWN_MS / 2);
    server.finishGracefully();
    await settle();
    expect(shutdown.value()).toBe(false);
    expect(clock.pending).toBe(0);
    clock.advance(AGENT_SERVER_SHUTDOWN_MS);
    expect(server.forced).toBe(0);
  });
});
