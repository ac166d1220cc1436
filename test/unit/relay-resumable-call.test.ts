import { describe, expect, test } from "bun:test";
import { DataAction, type DataMessage } from "../../src/proto/messages.ts";
import { ReplayError } from "../../src/relay/replay-buffer.ts";
import {
  type CallPort,
  DEFAULT_RESTART_ANSWER_MS,
  ResumableCall,
} from "../../src/relay/resumable-call.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RecordingCall } from "../support/recording-call.ts";

/** A call that records what is written to it; the test emits what it receives. */
class FakeCall extends RecordingCall {
  aborted = false;
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

interface Side {
  rc: ResumableCall;
  call: FakeCall;
  lost: Error[];
  restarted: number;
}

/**
 * Two ResumableCalls joined by fake calls; acknowledgements go through an ack channel of
 * their own (as bgproxy.v1.ResumeService carries them), never through the Data messages.
 */
function pair(ackEveryMessages = 16, hold = true) {
  const clock = new ManualClock();
  const acksToA: number[] = [];
  const acksToB: number[] = [];
  const make = (server: boolean, acksOut: number[]): Side => {
    const call = new FakeCall();
    const side: Side = { call, lost: [], restarted: 0 } as unknown as Side;
    side.rc = new ResumableCall(
      { ...port(call), server },
      {
        clock,
        limitBytes: 1 << 20,
        ackEveryMessages,
        onLost: (e) => side.lost.push(e),
        holdOnRestart: () => hold,
        onRestarted: () => {
          side.restarted++;
        },
      },
    );
    side.rc.setAckSink((n) => acksOut.push(n));
    return side;
  };
  const A = make(false, acksToB);
  const B = make(true, acksToA);
  const got: DataMessage[] = [];
  B.rc.on("data", (m: DataMessage) => got.push(m));
  const gotByA: DataMessage[] = [];
  A.rc.on("data", (m: DataMessage) => gotByA.push(m));
  /** Deliver what each side wrote to the other (in order), and the acks, until nothing is left. */
  const pump = () => {
    let moved = true;
    while (moved) {
      moved = false;
      for (const m of A.call.written.splice(0)) {
        B.call.emit("data", m);
        moved = true;
      }
      for (const m of B.call.written.splice(0)) {
        A.call.emit("data", m);
        moved = true;
      }
      for (const n of acksToA.splice(0)) A.rc.acknowledge(n);
      for (const n of acksToB.splice(0)) B.rc.acknowledge(n);
    }
  };
  return { a: A.rc, b: B.rc, A, B, aCall: A.call, got, gotByA, lost: A.lost, pump, clock };
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

  test("without acknowledgements the replay buffer holds everything (the bound applies)", () => {
    const { a, b, got, pump } = pair(16);
    b.setAckSink(undefined);
    for (let i = 0; i < 100; i++) a.write(data(i));
    pump();
    expect(got).toHaveLength(100);
    expect(a.replay.heldMessages).toBe(100);
  });

  test("Data messages carry only action and data", () => {
    const { a, aCall, pump } = pair(1);
    a.write(data(1));
    expect(aCall.written).toEqual([
      { action: DataAction.UNSPECIFIED, data: [Uint8Array.of(1, 0)] },
    ]);
    pump();
    expect(a.replay.heldMessages).toBe(0);
  });

  test("a lost call queues writes; attach replays what the peer lacks, then the queue, in order", () => {
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
    expect(a.counters.sent).toBe(5); // queued, not sent
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
    aCall.emit("error", new Error("lost"));
    expect(lost).toHaveLength(0);
    expect(errors).toHaveLength(1);
  });
});

describe("ResumableCall: graceful RESTART", () => {
  for (const starter of ["client", "server"] as const) {
    test(`started by the ${starter}: RESTART both ways, then both detached with matching counters`, () => {
      const { A, B, got, gotByA, pump } = pair(1_000);
      for (let i = 0; i < 3; i++) A.rc.write(data(i));
      B.rc.write(data(100));
      const [first, second] = starter === "client" ? [A, B] : [B, A];
      expect(first.rc.restart()).toBe(true);
      expect(first.rc.restarting).toBe(true);
      // Data written after the RESTART is queued, not sent.
      first.rc.write(data(7));
      pump();
      for (const side of [A, B]) {
        const actions = side.call.written;
        expect(actions).toHaveLength(0); // all delivered
        expect(side.rc.detached).toBe(true);
        expect(side.restarted).toBe(1);
        expect(side.call.writableEnded).toBe(true); // half-closed / ended
      }
      expect(got.filter((m) => m.action === DataAction.UNSPECIFIED)).toHaveLength(3);
      expect(gotByA.filter((m) => m.action === DataAction.UNSPECIFIED)).toHaveLength(1);
      // Neither relay saw a RESTART: the session goes on.
      expect([...got, ...gotByA].some((m) => m.action === DataAction.RESTART)).toBe(false);
      // Re-attach both on new calls with each other's counters: nothing to replay, the
      // queued message goes first on the new call.
      const a2 = new FakeCall();
      const b2 = new FakeCall();
      expect(B.rc.attach(port(b2), A.rc.counters)).toBeUndefined();
      expect(A.rc.attach(port(a2), B.rc.counters)).toBeUndefined();
      const firstNew = first === A ? a2 : b2;
      const otherNew = first === A ? b2 : a2;
      expect(firstNew.written.map((m) => m.data[0]?.[0])).toEqual([7]);
      expect(otherNew.written).toHaveLength(0);
      void second;
    });
  }

  test("without acknowledgements (replay limit 0) a RESTART still re-attaches", () => {
    const call = new FakeCall();
    let restarted = 0;
    const rc = new ResumableCall(port(call), {
      clock: new ManualClock(),
      limitBytes: 0,
      onLost() {},
      holdOnRestart: () => true,
      onRestarted: () => restarted++,
    });
    rc.disable();
    rc.on("data", () => {});
    for (let i = 0; i < 4; i++) rc.write(data(i));
    call.emit("data", data(9));
    call.emit("data", { action: DataAction.RESTART, data: [] });
    expect(restarted).toBe(1);
    expect(call.written.at(-1)?.action).toBe(DataAction.RESTART);
    expect(rc.attach(port(new FakeCall()), { sent: 1, received: 4 })).toBeUndefined();
  });

  test("a peer that lacks messages cannot be served after a RESTART without a replay buffer", () => {
    const call = new FakeCall();
    const rc = new ResumableCall(port(call), {
      clock: new ManualClock(),
      limitBytes: 0,
      onLost() {},
      holdOnRestart: () => true,
    });
    rc.on("data", () => {});
    for (let i = 0; i < 4; i++) rc.write(data(i));
    call.emit("data", { action: DataAction.RESTART, data: [] });
    expect(rc.attach(port(new FakeCall()), { sent: 0, received: 3 })).toBeInstanceOf(ReplayError);
  });

  test("not held: the RESTART goes to the relay, which ends the session as before", () => {
    const { A, B, got, pump } = pair(1_000, false);
    expect(A.rc.restart()).toBe(true);
    pump();
    expect(got.map((m) => m.action)).toEqual([DataAction.RESTART]);
    expect(B.rc.detached).toBe(false);
  });

  test("a RESTART that crosses the agent's half-close is void: the gateway goes on on the same call", () => {
    const { A, B, got, gotByA, pump } = pair(1_000);
    A.rc.end(); // the router's FIN, passed on as the agent's half-close
    expect(B.rc.restart()).toBe(true);
    B.rc.write(data(42)); // queued while restarting
    pump(); // the agent cannot answer: it drops the RESTART, its relay never sees it
    expect(gotByA).toHaveLength(0);
    expect(A.restarted).toBe(0);
    B.call.emit("end"); // the gateway sees the half-close: the RESTART is off
    expect(B.rc.restarting).toBe(false);
    pump();
    expect(gotByA.map((m) => m.data[0]?.[0])).toEqual([42]);
    expect(got).toHaveLength(0);
  });

  test("RESTARTs that cross (both sides start at once): both complete, each ends its call once", () => {
    const { A, B, pump } = pair(1_000);
    let aEnds = 0;
    const end = A.call.end.bind(A.call);
    A.call.end = () => {
      aEnds++;
      end();
    };
    expect(A.rc.restart()).toBe(true);
    expect(B.rc.restart()).toBe(true);
    pump();
    expect(A.rc.detached && B.rc.detached).toBe(true);
    expect(A.restarted + B.restarted).toBe(2);
    expect(aEnds).toBe(1);
    expect(A.rc.attach(port(new FakeCall()), B.rc.counters)).toBeUndefined();
  });
});

describe("ResumableCall: timers on the injected clock", () => {
  test("a RESTART the peer does not answer: the call is lost when the answer time is up, not before", () => {
    const { A, B, clock } = pair(1_000);
    expect(A.rc.restart()).toBe(true);
    // The peer never answers (nothing is pumped).
    clock.advance(DEFAULT_RESTART_ANSWER_MS - 1);
    expect(A.rc.restarting).toBe(true);
    expect(A.call.aborted).toBe(false);
    expect(A.lost).toHaveLength(0);
    clock.advance(1);
    expect(A.call.aborted).toBe(true);
    expect(A.lost.map((e) => e.message)).toEqual([
      `no RESTART answer within ${DEFAULT_RESTART_ANSWER_MS} ms`,
    ]);
    expect(A.rc.detached).toBe(true); // resumable: the owner re-attaches or fails it
    expect(B.lost).toHaveLength(0);
  });

  test("restartAnswerMs sets the answer time", () => {
    const call = new FakeCall();
    const clock = new ManualClock();
    const lost: Error[] = [];
    const rc = new ResumableCall(port(call), {
      clock,
      limitBytes: 1024,
      restartAnswerMs: 250,
      onLost: (e) => lost.push(e),
    });
    expect(rc.restart()).toBe(true);
    clock.advance(249);
    expect(lost).toHaveLength(0);
    clock.advance(1);
    expect(lost.map((e) => e.message)).toEqual(["no RESTART answer within 250 ms"]);
    expect(call.aborted).toBe(true);
  });

  test("an answered RESTART cancels its timer", () => {
    const { A, B, pump, clock } = pair(1_000);
    expect(A.rc.restart()).toBe(true);
    expect(clock.pending).toBe(1);
    pump();
    expect(A.rc.detached && B.rc.detached).toBe(true);
    expect(clock.pending).toBe(0);
    clock.advance(2 * DEFAULT_RESTART_ANSWER_MS);
    expect(A.call.aborted).toBe(false);
    expect(A.lost).toHaveLength(0);
  });

  function serverCall(endSettleMs: number) {
    const call = new FakeCall();
    const clock = new ManualClock();
    let cancelled: (() => void) | undefined;
    const lost: Error[] = [];
    const rc = new ResumableCall(
      {
        ...port(call),
        server: true,
        endSettleMs,
        onCancelled: (listener) => {
          cancelled = listener;
        },
      },
      { clock, limitBytes: 1024, onLost: (e) => lost.push(e) },
    );
    let ends = 0;
    rc.on("end", () => ends++);
    return { call, clock, rc, lost, ends: () => ends, cancel: () => cancelled?.() };
  }

  test("a server call's end is passed on when it settled, not before", () => {
    const s = serverCall(200);
    s.call.emit("end");
    s.clock.advance(199);
    expect(s.ends()).toBe(0);
    s.clock.advance(1);
    expect(s.ends()).toBe(1);
  });

  test("a server call cut while its end settles: the end is not passed on as a half-close", () => {
    const s = serverCall(200);
    s.call.emit("end");
    s.clock.advance(1);
    s.cancel(); // 'cancelled' follows the end of a cut stream
    expect(s.lost.map((e) => e.message)).toEqual(["the Data stream was cancelled"]);
    s.clock.advance(1_000);
    expect(s.ends()).toBe(0);
  });
});
