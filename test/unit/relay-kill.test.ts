/**
 * StreamRelay's KILL path: bytes held back for coalescing go before a KILL the relay sends
 * (an abort, a socket reset such as the agent's bridge dropping a far end right after its
 * NOTIFICATION), and with `killEndGraceMs` the peer's KILL ends the socket with a FIN after
 * the bytes queued for it, destroying it only when it does not close within the grace.
 */
import { describe, expect, test } from "bun:test";
import { Duplex } from "node:stream";
import { DataAction, type DataMessage } from "../../src/proto/messages.ts";
import { endSocketWithin } from "../../src/relay/socket-end.ts";
import {
  type MessageStream,
  type RelayOptions,
  StreamRelay,
} from "../../src/relay/stream-relay.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RecordingCall, startSinkRelay } from "../support/recording-call.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** What the relay wrote on the call: each message's bytes as text, a KILL as "KILL". */
const written = (call: RecordingCall) =>
  call.written.map((m: DataMessage) =>
    m.action === DataAction.KILL ? "KILL" : m.data.map((c) => Buffer.from(c).toString()).join(""),
  );

/** A relay whose call keeps its writes outstanding; "a" was sent and is outstanding. */
async function busyRelay() {
  const call = new RecordingCall();
  call.holdWrites = true;
  const ends: string[] = [];
  const { socket, relay } = startSinkRelay(call, { onEnd: (reason) => ends.push(reason) });
  socket.push(Buffer.from("a"));
  await tick();
  socket.push(Buffer.from("notification")); // coalesced behind "a"
  await tick();
  expect(written(call)).toEqual(["a"]);
  return { call, socket, relay, ends };
}

describe("StreamRelay: a KILL it sends", () => {
  test("an abort sends the bytes held back for coalescing first", async () => {
    const { call, relay, ends } = await busyRelay();
    relay.abort();
    expect(written(call)).toEqual(["a", "notification", "KILL"]);
    expect(call.writableEnded).toBe(true);
    expect(ends).toEqual(["aborted"]);
  });

  test("a socket destroyed under the relay (a dropped far end) sends them first", async () => {
    const { call, socket, ends } = await busyRelay();
    socket.destroy();
    await tick();
    expect(written(call)).toEqual(["a", "notification", "KILL"]);
    expect(ends).toEqual(["socket-error"]);
  });
});

/** A socket whose writes complete when the test says so, and that closes only when told. */
function slowSocket() {
  const received: string[] = [];
  const held: Array<() => void> = [];
  const socket = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      held.push(() => {
        received.push(String(chunk));
        callback();
      });
    },
  });
  const flushAll = () => {
    while (held.length > 0) held.shift()?.();
  };
  return { socket, received, flushAll };
}

/** A started relay over `socket`; `options` as StreamRelay's (graces, clock). */
function relayOver(
  socket: Duplex,
  options: Pick<RelayOptions, "killEndGraceMs" | "socketEndGraceMs" | "clock"> = {},
) {
  const call = new RecordingCall();
  const ends: string[] = [];
  let aborted = 0;
  const relay = new StreamRelay(socket, call as unknown as MessageStream, {
    ...options,
    onEnd: (reason) => ends.push(reason),
    abortCall: () => {
      aborted++;
    },
  });
  relay.start();
  const fromPeer = (m: Partial<DataMessage>) =>
    call.emit("data", { action: DataAction.UNSPECIFIED, data: [], ...m });
  return { call, ends, fromPeer, aborted: () => aborted };
}

describe("StreamRelay: the peer's KILL", () => {
  test("resets the socket at once by default", () => {
    const { socket } = slowSocket();
    const { ends, fromPeer, aborted } = relayOver(socket);
    fromPeer({ data: [Buffer.from("notification")] });
    fromPeer({ action: DataAction.KILL });
    expect(socket.destroyed).toBe(true);
    expect(ends).toEqual(["killed"]);
    expect(aborted()).toBe(1);
  });

  test("with killEndGraceMs, ends it after the queued bytes: a FIN, not a reset", async () => {
    const { socket, received, flushAll } = slowSocket();
    const { ends, fromPeer, aborted } = relayOver(socket, { killEndGraceMs: 60_000 });
    fromPeer({ data: [Buffer.from("notification")] });
    fromPeer({ action: DataAction.KILL });
    expect(ends).toEqual(["killed"]);
    expect(aborted()).toBe(1);
    expect(socket.destroyed).toBe(false);
    expect(socket.writableEnded).toBe(true);
    let finished = false;
    socket.on("finish", () => {
      finished = true;
    });
    flushAll();
    await tick();
    expect(received).toEqual(["notification"]);
    expect(finished).toBe(true);
    // The far end closes its side too (read although the relay has finished): closed.
    socket.push(null);
    await tick();
    await tick();
    expect(socket.destroyed).toBe(true);
  });

  test("with killEndGraceMs, a socket that does not close is destroyed after the grace", () => {
    const { socket } = slowSocket();
    const clock = new ManualClock();
    const { fromPeer } = relayOver(socket, { killEndGraceMs: 20, clock });
    fromPeer({ data: [Buffer.from("notification")] });
    fromPeer({ action: DataAction.KILL });
    clock.advance(19);
    expect(socket.destroyed).toBe(false);
    clock.advance(1);
    expect(socket.destroyed).toBe(true);
  });
});

describe("StreamRelay: a FIN read after the relay finished", () => {
  // The gateway's forwarded sessions set both graces: after the peer's KILL (or RESTART) the
  // socket is still read for its close, and its FIN must not start the socket-end grace (a
  // timer with no call left to end).
  const graces = { killEndGraceMs: 20, socketEndGraceMs: 3_000 };

  test("after the peer's KILL, the far end's FIN leaves no timer behind", async () => {
    const { socket, flushAll } = slowSocket();
    const clock = new ManualClock();
    const { ends, fromPeer } = relayOver(socket, { ...graces, clock });
    fromPeer({ action: DataAction.KILL });
    expect(clock.pending).toBe(1); // endSocketWithin's bound on the close
    flushAll();
    socket.push(null); // the far end's FIN
    await tick();
    await tick();
    expect(socket.destroyed).toBe(true);
    expect(ends).toEqual(["killed"]);
    expect(clock.pending).toBe(0);
  });

  test("after the peer's RESTART, the far end's FIN leaves no timer behind", async () => {
    const { socket, flushAll } = slowSocket();
    const clock = new ManualClock();
    const { ends, fromPeer } = relayOver(socket, { ...graces, clock });
    fromPeer({ action: DataAction.RESTART });
    expect(ends).toEqual(["restart"]);
    flushAll();
    socket.push(null);
    await tick();
    await tick();
    expect(clock.pending).toBe(0);
  });

  test("while the relay runs, the far end's FIN still starts the grace (the control)", async () => {
    const { socket } = slowSocket();
    const clock = new ManualClock();
    relayOver(socket, { ...graces, clock });
    socket.push(null);
    await tick();
    expect(clock.pending).toBe(1);
    expect(clock.nextDueIn()).toBe(graces.socketEndGraceMs);
  });
});

describe("endSocketWithin", () => {
  test("a FIN now; destroyed when the grace is over, not before", () => {
    const clock = new ManualClock();
    const { socket } = slowSocket();
    endSocketWithin(socket, 1_000, clock);
    expect(socket.writableEnded).toBe(true);
    clock.advance(999);
    expect(socket.destroyed).toBe(false);
    clock.advance(1);
    expect(socket.destroyed).toBe(true);
  });

  test("a socket that closes within the grace cancels its timer", async () => {
    const clock = new ManualClock();
    const { socket, flushAll } = slowSocket();
    endSocketWithin(socket, 1_000, clock);
    flushAll();
    socket.push(null);
    socket.resume();
    await tick();
    await tick();
    expect(socket.destroyed).toBe(true);
    expect(clock.pending).toBe(0);
  });
});
