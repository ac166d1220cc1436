/**
 * SessionBridge (src/agent/bridge/session-bridge.ts) with real StreamRelays over it and a
 * real router TCP connection on loopback: what happens at the edge when the bridge itself
 * ends a new far end's stream (a handshake gone wrong) or the router's session.
 */
import { describe, expect, test } from "bun:test";
import { connect, createServer, type Socket } from "node:net";
import { STALL_AFTERMATH_MS } from "../../src/agent/bridge/bgp-bridge.ts";
import {
  FAR_END_DROP_GRACE_MS,
  ROUTER_CLOSE_GRACE_MS,
  SessionBridge,
} from "../../src/agent/bridge/session-bridge.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { DataAction } from "../../src/proto/messages.ts";
import {
  type MessageStream,
  type RelayEndReason,
  StreamRelay,
} from "../../src/relay/stream-relay.ts";
import {
  CEASE_OTHER_CONFIG_CHANGE,
  FSM_UNEXPECTED_IN_OPENCONFIRM,
  FSM_UNEXPECTED_IN_OPENSENT,
  farOpen,
  HOLD_TIMER_EXPIRED,
  hex,
  KEEPALIVE,
  routerOpen,
  update,
} from "../support/bgp-bridge-fixtures.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RecordingCall } from "../support/recording-call.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();
const WAIT = { timeoutMs: 5_000, intervalMs: 5 };

/** The agent's side of a router connection and the router's, on loopback. */
async function routerConnection() {
  // As the agent's router listener: half-open connections (a router's FIN is passed on).
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const accepted = new Promise<Socket>((r) => server.once("connection", r));
  const router = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  const agentSide = await accepted;
  server.close();
  const heard: Buffer[] = [];
  const seen = { ended: false };
  router.on("data", (d: Buffer) => heard.push(d));
  // The router does not close its side: what the agent does is seen alone.
  router.on("end", () => {
    seen.ended = true;
  });
  router.on("error", () => {});
  agentSide.on("error", () => {});
  cleanups.push(() => {
    router.destroy();
    agentSide.destroy();
  });
  return { agentSide, router, seen, heard: () => hex(Buffer.concat(heard)) };
}

/** One Data stream's relay over a port of the bridge; the test plays the far end on `call`. */
function stream(bridge: SessionBridge) {
  const call = Object.assign(new RecordingCall(), { cancel() {} });
  const end: { reason?: RelayEndReason } = {};
  const port = bridge.attach();
  const relay = new StreamRelay(port, call as unknown as MessageStream, {
    abortCall: () => {},
    onEnd: (reason) => {
      end.reason = reason;
    },
  });
  relay.start();
  const fromFar = (bytes: Uint8Array) =>
    call.emit("data", { action: DataAction.UNSPECIFIED, data: [Buffer.from(bytes)] });
  /** What the relay wrote on the call: the bytes as hex, a KILL as "KILL". */
  const written = () =>
    call.written.flatMap((m) =>
      m.action === DataAction.KILL ? ["KILL"] : m.data.map((d) => hex(d)),
    );
  return { call, end, fromFar, written, port };
}

/** An Established session over its first far end's stream (`first`). */
async function establishedSession() {
  const r = await routerConnection();
  const clock = new ManualClock();
  const closed: string[] = [];
  const bridge = new SessionBridge(
    r.agentSide,
    clock,
    { onRouterClosed: (reason) => closed.push(reason) },
    { giveUpMs: 300_000, handshakeMs: 30_000 },
  );
  const first = stream(bridge);
  r.router.write(routerOpen());
  await waitUntil(() => first.written().length > 0, { ...WAIT, what: "the router's OPEN relayed" });
  first.fromFar(farOpen());
  first.fromFar(encodeKeepalive());
  r.router.write(encodeKeepalive());
  await waitUntil(() => bridge.bridge.state === "established", { ...WAIT, what: "Established" });
  return { ...r, clock, bridge, closed, first };
}

/** An Established session whose first far end was lost: the bridge keeps the router up. */
async function bridgedSession() {
  const { first, ...s } = await establishedSession();
  const { bridge, heard } = s;
  first.call.emit("error", new Error("the gateway went away"));
  expect(first.end.reason).toBe("call-error");
  expect(bridge.farEndLost("call-error", "the gateway went away")).toBe(true);
  await waitUntil(() => heard().endsWith(KEEPALIVE), { ...WAIT, what: "a bridge KEEPALIVE" });
  return s;
}

describe("the bridge drops a new far end that fails its handshake", () => {
  test("it hears why, its stream is killed, and the router's session stays bridged", async () => {
    const s = await bridgedSession();
    const second = stream(s.bridge);
    await waitUntil(() => second.written().length > 0, { ...WAIT, what: "the OPEN replayed" });
    expect(s.bridge.bridge.state).toBe("reattach-open-sent");
    second.fromFar(encodeKeepalive()); // a KEEPALIVE before its OPEN: FSM error, dropped
    expect(s.bridge.bridge.state).toBe("bridging");
    await waitUntil(() => second.end.reason, { ...WAIT, what: "the dropped stream's end" });
    // The NOTIFICATION went out before the stream was killed.
    expect(second.written().slice(1)).toEqual([FSM_UNEXPECTED_IN_OPENSENT, "KILL"]);
    // The owner is told the stream ended: the router's session is still bridged.
    expect(s.bridge.farEndLost(second.end.reason as RelayEndReason, "dropped")).toBe(true);
    expect(s.bridge.bridging).toBe(true);
    expect(s.closed).toEqual([]);
    expect(s.agentSide.destroyed).toBe(false);
    expect(s.seen.ended).toBe(false);
    // And a further far end can take over.
    const third = stream(s.bridge);
    expect(s.bridge.bridge.state).toBe("reattach-open-sent");
    third.fromFar(farOpen());
    third.fromFar(encodeKeepalive());
    expect(s.bridge.bridge.state).toBe("established");
  });
});

describe("a new far end's stream is killed during its handshake", () => {
  test("that far end is lost, not the router's session: still bridged", async () => {
    // As when a resumed stream reaches a gateway that does not hold it: KILL, then bridging.
    const s = await bridgedSession();
    const second = stream(s.bridge);
    await waitUntil(() => second.written().length > 0, { ...WAIT, what: "the OPEN replayed" });
    expect(s.bridge.bridge.state).toBe("reattach-open-sent");
    second.call.emit("data", { action: DataAction.KILL, data: [] });
    expect(second.end.reason).toBe("killed");
    expect(s.bridge.farEndLost("killed", "killed")).toBe(true);
    expect(s.bridge.bridging).toBe(true);
    expect(s.closed).toEqual([]);
    await Bun.sleep(50);
    expect(s.agentSide.destroyed).toBe(false);
    expect(s.seen.ended).toBe(false);
    const third = stream(s.bridge);
    third.fromFar(farOpen());
    third.fromFar(encodeKeepalive());
    expect(s.bridge.bridge.state).toBe("established");
  });

  test("a KILL while relaying (no handshake under way) still ends the router's session", async () => {
    const s = await bridgedSession();
    const second = stream(s.bridge);
    await waitUntil(() => second.written().length > 0, { ...WAIT, what: "the OPEN replayed" });
    second.fromFar(farOpen());
    second.fromFar(encodeKeepalive());
    expect(s.bridge.bridge.state).toBe("established");
    second.call.emit("data", { action: DataAction.KILL, data: [] });
    expect(s.bridge.farEndLost("killed", "killed")).toBe(false);
    await waitUntil(() => s.agentSide.destroyed, { ...WAIT, what: "the router's reset" });
  });
});

describe("a far end that said its hold timer expired, then its stream is killed", () => {
  test("is lost like any far end whose hold timer expired: bridged, the router not reset", async () => {
    // A daemon whose hold timer expired in a partition may reset the gateway's connection
    // after its NOTIFICATION (the gateway then sends KILL instead of ending the stream).
    const s = await establishedSession();
    s.first.fromFar(Buffer.from(HOLD_TIMER_EXPIRED, "hex")); // dropped: the router never sees it
    expect(s.bridge.bridge.stallState).toBe("far-end-ended");
    await killedThenBridged(s);
    expect(s.heard().includes(HOLD_TIMER_EXPIRED)).toBe(false);
  });
});

/** The first far end's stream is killed: the bridge keeps the router's session (no RST, no FIN). */
async function killedThenBridged(s: Awaited<ReturnType<typeof establishedSession>>) {
  s.first.call.emit("data", { action: DataAction.KILL, data: [] });
  expect(s.first.end.reason).toBe("killed");
  expect(s.bridge.farEndLost("killed", "killed")).toBe(true);
  expect(s.bridge.bridging).toBe(true);
  await Bun.sleep(50);
  expect(s.agentSide.destroyed).toBe(false);
  expect(s.seen.ended).toBe(false);
}

/** Half of the 90 s hold time without a far-end byte: the bridge covers with a KEEPALIVE. */
async function coveredSession() {
  const s = await establishedSession();
  s.clock.advance(45_000);
  await waitUntil(() => s.heard().endsWith(KEEPALIVE), { ...WAIT, what: "a cover KEEPALIVE" });
  expect(s.bridge.bridge.stallState).toBe("covering");
  return s;
}

/** The first far end's stream is killed and the router's connection is reset. */
async function killedThenReset(s: Awaited<ReturnType<typeof establishedSession>>) {
  s.first.call.emit("data", { action: DataAction.KILL, data: [] });
  expect(s.bridge.farEndLost("killed", "killed")).toBe(false);
  await waitUntil(() => s.agentSide.destroyed, { ...WAIT, what: "the router's reset" });
}

describe("a far end silent for half the hold time (covered), then its stream is killed", () => {
  // Found by the fault matrix's 60 s partition (session 11): the daemon's hold timer expired
  // and it closed; the gateway's late write to it failed (EPIPE) and it sent KILL, with no
  // NOTIFICATION from the daemon before it.
  test("is lost like a far end whose hold timer expired: bridged, the router not reset", async () => {
    await killedThenBridged(await coveredSession());
  });

  test("the far end's held bytes pass as the transport heals, then the KILL: still a lost far end, bridged", async () => {
    // Session 12's CI, the same partition: the daemon's KEEPALIVEs held through it reached the
    // router first, and 1 ms later the KILL of the gateway's failed write (STALL_AFTERMATH_MS).
    const s = await coveredSession();
    s.first.fromFar(encodeKeepalive());
    expect(s.bridge.bridge.stallState).toBe("flowing");
    s.clock.advance(1);
    await killedThenBridged(s);
  });

  test("a KILL well after a covered far end flowed again ends the router's session", async () => {
    const s = await coveredSession();
    s.first.fromFar(encodeKeepalive());
    s.clock.advance(STALL_AFTERMATH_MS + 1);
    await killedThenReset(s);
  });

  test("a KILL while the far end still flows ends the router's session, as before", async () => {
    const s = await establishedSession();
    s.clock.advance(30_000);
    s.first.fromFar(encodeKeepalive()); // the far end's own KEEPALIVE: not a stall
    expect(s.bridge.bridge.stallState).toBe("flowing");
    await killedThenReset(s);
  });
});

describe("the bridge drops a new far end while its relay is not reading (pacing, back-pressure)", () => {
  /** A second far end, its stream's port paused as the relay pauses it, then an FSM error. */
  async function droppedWhilePaused() {
    const s = await bridgedSession();
    const second = stream(s.bridge);
    await waitUntil(() => second.written().length > 0, { ...WAIT, what: "the OPEN replayed" });
    second.port.pause();
    second.fromFar(farOpen()); // our KEEPALIVE waits in the port
    second.fromFar(update()); // an UPDATE in OpenConfirm: the FSM error waits too; dropped
    expect(s.bridge.bridge.state).toBe("bridging");
    return { s, second };
  }

  test("what the bridge pushed last (its NOTIFICATION) goes out before the KILL", async () => {
    const { s, second } = await droppedWhilePaused();
    expect(second.port.destroyed).toBe(false);
    second.port.resume();
    await waitUntil(() => second.end.reason, { ...WAIT, what: "the dropped stream's end" });
    expect(second.written().slice(1)).toEqual([KEEPALIVE, FSM_UNEXPECTED_IN_OPENCONFIRM, "KILL"]);
    expect(s.bridge.farEndLost(second.end.reason as RelayEndReason, "dropped")).toBe(true);
  });

  test("a relay that reads nothing within the grace: the stream is killed all the same", async () => {
    const { s, second } = await droppedWhilePaused();
    s.clock.advance(FAR_END_DROP_GRACE_MS - 1);
    expect(second.port.destroyed).toBe(false);
    s.clock.advance(1);
    await waitUntil(() => second.end.reason, { ...WAIT, what: "the dropped stream's end" });
    expect(second.written().slice(1)).toEqual(["KILL"]);
    expect(s.bridge.farEndLost(second.end.reason as RelayEndReason, "dropped")).toBe(true);
  });
});

describe("the bridge closes the router's session during a new far end's handshake", () => {
  test("the router gets the Cease and then a FIN; a reset only after the grace", async () => {
    const s = await bridgedSession();
    const second = stream(s.bridge);
    await waitUntil(() => second.written().length > 0, { ...WAIT, what: "the OPEN replayed" });
    second.fromFar(farOpen({ asn: 64999 })); // another AS: Cease to both, both closed
    expect(s.bridge.bridge.state).toBe("closed");
    expect(s.closed).toHaveLength(1);
    await waitUntil(() => second.end.reason, { ...WAIT, what: "the far end's stream end" });
    expect(s.bridge.farEndLost(second.end.reason as RelayEndReason, "closed")).toBe(false);
    await waitUntil(() => s.seen.ended, { ...WAIT, what: "the router's FIN" });
    expect(s.heard().endsWith(CEASE_OTHER_CONFIG_CHANGE)).toBe(true);
    // The agent's side is not torn down under the NOTIFICATION: the router may close it...
    expect(s.agentSide.destroyed).toBe(false);
    // ... within the grace; then it is reset.
    s.clock.advance(ROUTER_CLOSE_GRACE_MS);
    expect(s.agentSide.destroyed).toBe(true);
  });
});

describe("the router closes first, then the far end", () => {
  test("the far end's last bytes reach the router before the agent's FIN (no reset)", async () => {
    const r = await routerConnection();
    let routerError = "";
    r.router.on("error", (err: NodeJS.ErrnoException) => {
      routerError = err.code ?? err.message;
    });
    const clock = new ManualClock();
    const bridge = new SessionBridge(r.agentSide, clock, { onRouterClosed: () => {} });
    const call = Object.assign(new RecordingCall(), { cancel() {} });
    const ends: boolean[] = [];
    // The owner tells the bridge in the relay's end, in the same turn (as RouterSession does).
    const relay = new StreamRelay(bridge.attach(), call as unknown as MessageStream, {
      abortCall: () => {},
      onEnd: (reason) => ends.push(bridge.farEndLost(reason, reason)),
    });
    relay.start();
    let received = 0;
    r.router.removeAllListeners("data");
    r.router.on("data", (d: Buffer) => {
      received += d.length;
    });
    r.router.pause(); // a router that reads nothing for now
    r.router.end(); // its FIN first: passed on as the end of the stream
    await waitUntil(() => call.writableEnded, { ...WAIT, what: "the router's FIN passed on" });
    // The far end's bytes, until the kernel takes no more: the last chunk (under the socket's
    // high-water mark, so taken at once) waits in the agent's socket.
    const chunk = Buffer.alloc(4 * 1024, 0x5a);
    let sent = 0;
    while (r.agentSide.writableLength === 0 && sent < 256 * 1024 * 1024) {
      call.emit("data", { action: DataAction.UNSPECIFIED, data: [chunk] });
      sent += chunk.length;
    }
    expect(r.agentSide.writableLength).toBeGreaterThan(0);
    call.emit("end"); // then the far end's end
    await waitUntil(() => ends.length > 0, { ...WAIT, what: "the relay's end" });
    expect(ends).toEqual([false]);
    r.router.resume();
    await waitUntil(() => r.seen.ended || routerError !== "", {
      ...WAIT,
      what: "the router's connection to end",
      diagnostics: () => `received ${received} of ${sent} bytes`,
    });
    expect(routerError).toBe("");
    expect(r.seen.ended).toBe(true);
    expect(received).toBe(sent);
  });
});

describe("the router's socket behind the bridge, as read pacing needs it", () => {
  test("it reads one chunk ahead, and what it has read is the relay's upstream backlog", async () => {
    const r = await routerConnection();
    expect(r.agentSide.readableHighWaterMark).toBeGreaterThan(1);
    const bridge = new SessionBridge(r.agentSide, new ManualClock(0), { onRouterClosed: () => {} });
    expect(bridge.routerReadAheadLimited).toBe(true);
    expect(r.agentSide.readableHighWaterMark).toBe(1);
    // Bytes the router's socket holds (the bridge has paused it) are not in any port's
    // readable buffer: only `routerBacklog` shows them to the relay's pacing.
    expect(bridge.routerBacklog).toBe(0);
    r.agentSide.pause();
    r.router.write(routerOpen());
    r.agentSide.read(0); // as a paused stream's owner does: read ahead (one chunk)
    await waitUntil(() => r.agentSide.readableLength > 0, {
      ...WAIT,
      what: "one chunk read ahead",
    });
    expect(bridge.routerBacklog).toBe(r.agentSide.readableLength);
  });
});
