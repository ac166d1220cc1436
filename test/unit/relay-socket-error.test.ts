/**
 * A socket error after the socket's FIN (a daemon closed, then the gateway's late write to
 * it failed with EPIPE) is the socket's close: the call ends as for a FIN, no KILL. An
 * error before any FIN stays a reset: KILL.
 */
import { describe, expect, test } from "bun:test";
import { DataAction } from "../../src/proto/messages.ts";
import type { RelayEndReason } from "../../src/relay/stream-relay.ts";
import { RecordingCall, startSinkRelay } from "../support/recording-call.ts";

function setup(socketEndGraceMs?: number) {
  const call = new RecordingCall();
  const ends: RelayEndReason[] = [];
  const { socket } = startSinkRelay(call, {
    onEnd: (reason) => ends.push(reason),
    ...(socketEndGraceMs === undefined ? {} : { socketEndGraceMs }),
  });
  return { socket, call, ends };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const kills = (call: RecordingCall) =>
  call.written.filter((m) => m.action === DataAction.KILL).length;

describe("StreamRelay: a socket error", () => {
  test("after the socket's FIN ends the call as that FIN does, without KILL", async () => {
    // The gateway's daemon socket: a FIN waits for the agent's half-close (grace).
    const { socket, call, ends } = setup(60_000);
    socket.push(Buffer.from("last words"));
    socket.push(null);
    await tick();
    expect(call.writableEnded).toBe(false); // still in the grace period
    socket.destroy(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
    await tick();
    expect(kills(call)).toBe(0);
    expect(call.writableEnded).toBe(true);
    expect(ends).toEqual(["closed"]);
    const data = call.written.flatMap((m) => m.data.map((c) => Buffer.from(c).toString()));
    expect(data).toEqual(["last words"]);
  });

  test("before any FIN is a reset: KILL", async () => {
    const { socket, call, ends } = setup(60_000);
    socket.destroy(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
    await tick();
    expect(kills(call)).toBe(1);
    expect(ends).toEqual(["socket-error"]);
  });
});
