/**
 * A grpc-js server reports every closed call as "cancelled", its normal end included
 * (StreamRelay.streamClosed): after the far end's FIN went on as the end of the call, a
 * close is that end ("closed", the socket ended, no KILL); before it, the agent cut the
 * stream ("call-error": KILL, socket reset). A far end that no longer takes writes cannot
 * hold the ended relay open past the grace.
 */
import { describe, expect, test } from "bun:test";
import { Duplex } from "node:stream";
import { DataAction } from "../../src/proto/messages.ts";
import type { RelayEndReason } from "../../src/relay/stream-relay.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RecordingCall, startSinkRelay } from "../support/recording-call.ts";

const CUT = new Error("the agent cancelled the Data stream");
const tick = () => new Promise((resolve) => setImmediate(resolve));
const kills = (call: RecordingCall) =>
  call.written.filter((m) => m.action === DataAction.KILL).length;

function setup(make?: () => Duplex) {
  const call = new RecordingCall();
  const clock = new ManualClock();
  const ends: { reason: RelayEndReason; error?: string }[] = [];
  /** RSTs sent (resetSocket prefers resetAndDestroy, as a net.Socket has it). */
  const resets = { count: 0 };
  const { socket, relay } = startSinkRelay(
    call,
    {
      clock,
      onEnd: (reason, error) => ends.push({ reason, ...(error ? { error: error.message } : {}) }),
    },
    (given) =>
      Object.assign(make?.() ?? given, {
        resetAndDestroy(this: Duplex) {
          resets.count++;
          this.destroy();
        },
      }),
  );
  return { socket, relay, call, clock, ends, resets };
}

describe("StreamRelay.streamClosed", () => {
  test("after the far end's FIN ended the call: the RPC's normal end, closed without KILL", async () => {
    const { socket, relay, call, ends, resets } = setup();
    socket.push(Buffer.from("NOTIFICATION"));
    socket.push(null); // the far end's FIN ...
    await tick();
    expect(call.writableEnded).toBe(true); // ... went on as the end of the call
    relay.streamClosed(CUT, 1_000);
    await tick();
    expect(ends).toEqual([{ reason: "closed" }]);
    expect(kills(call)).toBe(0);
    expect(socket.writableEnded).toBe(true); // a FIN ...
    expect(resets.count).toBe(0); // ... not a reset
  });

  test("before this side ended the call: the agent cut it, KILL and the socket reset", async () => {
    const { socket, relay, call, ends, resets } = setup();
    socket.push(Buffer.from("half an UPDATE"));
    await tick();
    relay.streamClosed(CUT, 1_000);
    await tick();
    expect(ends).toEqual([{ reason: "call-error", error: CUT.message }]);
    expect(kills(call)).toBe(1);
    expect(resets.count).toBe(1);
  });

  test("a far end that takes no more writes is reset after the grace, the relay closed", async () => {
    // Its writes never complete: the socket cannot finish after its end().
    const stuck = () =>
      new Duplex({
        read() {},
        write() {},
      });
    const { socket, relay, call, clock, ends, resets } = setup(stuck);
    call.emit("data", { action: DataAction.UNSPECIFIED, data: [Buffer.from("queued")] });
    socket.push(null);
    await tick();
    relay.streamClosed(CUT, 1_000);
    await tick();
    expect(ends).toEqual([]); // waiting for the socket to take its last write
    clock.advance(999);
    await tick();
    expect(ends).toEqual([]);
    clock.advance(1);
    await tick();
    expect(ends).toEqual([{ reason: "closed" }]);
    expect(resets.count).toBe(1);
    expect(kills(call)).toBe(0);
  });

  test("after the relay finished: nothing more happens", async () => {
    const { socket, relay, call, ends } = setup();
    socket.push(null);
    await tick();
    call.emit("end");
    await tick();
    expect(ends).toEqual([{ reason: "closed" }]);
    relay.streamClosed(CUT, 1_000);
    await tick();
    expect(ends).toEqual([{ reason: "closed" }]);
    expect(kills(call)).toBe(0);
  });
});
