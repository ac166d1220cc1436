import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { DataAction, type DataMessage } from "../../src/proto/messages.ts";
import { ReplayError } from "../../src/relay/replay-buffer.ts";
import { type CallPort, ResumableCall } from "../../src/relay/resumable-call.ts";

/** A call that records what is written to it; the test emits what it receives. */
class FakeCall extends EventEmitter {
  readonly written: DataMessage[] = [];
  writableEnded = false;
  destroyed = false;
  aborted = false;
  write(message: DataMessage, callback?: (error?: Error | null) => void): boolean {
    this.written.push({ ...message });
    callback?.();
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
  pause(): void {}
  resume(): void {}
}

const port = (call: FakeCall): CallPort => ({
  call,
  abort: () => {
    call.aborted = true;
  },
});
const data = (n: number): DataMessage => ({
  action: DataAction.UNSPECIFIED,
  data: [Uint8Array.of(n & 255, (n >> 8) & 255)],
});

function pair(ackEveryMessages = 16) {
  const lost: Error[] = [];
  const aCall = new FakeCall();
  const bCall = new FakeCall();
  const a = new ResumableCall(port(aCall), {
    limitBytes: 1 << 20,
    ackEveryMessages,
    onLost: (e) => lost.push(e),
  });
  const b = new ResumableCall(port(bCall), { limitBytes: 1 << 20, ackEveryMessages, onLost() {} });
  const got: DataMessage[] = [];
  b.on("data", (m: DataMessage) => got.push(m));
  a.on("data", () => {});
  /** Deliver what each side wrote to the other (in order), until nothing is left. */
  const pump = () => {
    let moved = true;
    while (moved) {
      moved = false;
      for (const m of aCall.written.splice(0)) {
        bCall.emit("data", m);
        moved = true;
      }
      for (const m of bCall.written.splice(0)) {
        aCall.emit("data", m);
        moved = true;
      }
    }
  };
  return { a, b, aCall, bCall, got, lost, pump };
}

describe("ResumableCall", () => {
  test("the receiver's acknowledgements keep the sender's replay buffer small", () => {
    const { a, got, pump } = pair(16);
    for (let i = 0; i < 1_000; i++) {
      a.write(data(i));
      pump();
    }
    expect(got).toHaveLength(1_000);
    expect(a.replay.heldMessages).toBeLessThan(16);
    expect(a.counters).toEqual({ sent: 1_000, received: 0 });
  });

  test("acknowledgement-only messages are not counted or passed on", () => {
    const { a, b, got, pump } = pair(1);
    a.write(data(1));
    pump();
    expect(got).toHaveLength(1);
    expect(b.counters).toEqual({ sent: 0, received: 1 });
    expect(a.counters).toEqual({ sent: 1, received: 0 });
    expect(a.replay.heldMessages).toBe(0);
  });

  test("a lost call holds writes; attach replays what the peer lacks, in order", () => {
    const { a, aCall, lost } = pair(1_000);
    for (let i = 0; i < 5; i++) a.write(data(i));
    aCall.emit("error", new Error("connection dropped"));
    expect(lost).toHaveLength(1);
    expect(a.detached).toBe(true);
    let done = false;
    a.write(data(5), () => {
      done = true;
    });
    expect(done).toBe(false); // held until a call carries it
    const next = new FakeCall();
    expect(a.attach(port(next), { sent: 0, received: 3 })).toBeUndefined();
    expect(done).toBe(true);
    expect(next.written.map((m) => m.data[0]?.[0])).toEqual([3, 4, 5]);
    // Events of the old call are not ours any more.
    aCall.emit("data", data(99));
    expect(a.counters.received).toBe(0);
  });

  test("counters that do not fit are refused and the session stays detached", () => {
    const { a, aCall } = pair();
    a.write(data(0));
    aCall.emit("error", new Error("lost"));
    const error = a.attach(port(new FakeCall()), { sent: 0, received: 2 });
    expect(error).toBeInstanceOf(ReplayError);
    expect(a.detached).toBe(true);
    const seen: Error[] = [];
    a.on("error", (e: Error) => seen.push(e));
    a.fail(error as Error);
    expect(seen).toEqual([error as Error]);
  });

  test("with resume disabled (the gateway did not accept it), a lost call is an error as without resume", () => {
    const { a, aCall, lost } = pair();
    const errors: Error[] = [];
    a.on("error", (e: Error) => errors.push(e));
    a.disable();
    aCall.emit("data", data(1));
    a.write(data(2));
    // A peer that did not accept resume never sees bgproxy's acknowledgement field.
    expect(aCall.written.every((m) => m.received === undefined)).toBe(true);
    aCall.emit("error", new Error("lost"));
    expect(lost).toHaveLength(0);
    expect(errors).toHaveLength(1);
  });
});
