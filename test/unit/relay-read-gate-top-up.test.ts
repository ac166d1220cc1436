/**
 * The read gate's connection-window top-up (src/relay/http2-read-gate.ts) runs on the clock
 * it is given: every CONNECTION_TOP_UP_MS while one of the session's streams is held, never
 * earlier, and not at all once nothing is held or the session is gone.
 */
import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { Http2Stream } from "node:http2";
import { DEFAULT_GC_PACER } from "../../src/core/gc-pacer.ts";
import { noteRelayAllocation, processGcPacer } from "../../src/core/process-gc-pacer.ts";
import {
  CONNECTION_TOP_UP_MS,
  HELD_BACK_MS,
  Http2ReadGate,
} from "../../src/relay/http2-read-gate.ts";
import { ManualClock } from "../support/manual-clock.ts";

const WINDOW = 2 * 1024 * 1024;

function fakeSession() {
  const sizes: number[] = [];
  return {
    sizes,
    destroyed: false,
    closed: false,
    state: { localWindowSize: WINDOW },
    setLocalWindowSize(size: number) {
      sizes.push(size);
    },
  };
}

/** A Bun server stream as the gate knows it: "resume" handled by Bun's `streamOnResume`. */
function fakeStream(session: ReturnType<typeof fakeSession>) {
  const native = { resumes: 0 };
  const stream = Object.assign(new EventEmitter(), {
    session,
    destroyed: false,
    readableFlowing: true as boolean | null,
    readableLength: 0,
  });
  stream.on("resume", function streamOnResume() {
    native.resumes++;
  });
  stream.on("pause", () => {});
  const hold = () => {
    stream.readableFlowing = false;
    stream.emit("pause");
  };
  const release = () => {
    stream.readableFlowing = true;
    stream.emit("resume");
  };
  return { stream, native, hold, release };
}

function gated(clock: ManualClock, session: ReturnType<typeof fakeSession>) {
  const s = fakeStream(session);
  expect(Http2ReadGate.install(s.stream as unknown as Http2Stream, clock)).toBeDefined();
  return s;
}

describe("the connection-window top-up runs on the gate's clock", () => {
  test("every CONNECTION_TOP_UP_MS while a stream is held, not earlier; stops once released", () => {
    const clock = new ManualClock();
    const session = fakeSession();
    const s = gated(clock, session);
    expect(clock.pending).toBe(0);
    s.hold();
    clock.advance(CONNECTION_TOP_UP_MS - 1);
    expect(session.sizes).toEqual([]);
    clock.advance(1);
    // A different size each time (Bun ignores a repeated one).
    expect(session.sizes).toEqual([WINDOW + 1]);
    clock.advance(CONNECTION_TOP_UP_MS - 1);
    expect(session.sizes).toHaveLength(1);
    clock.advance(1);
    expect(session.sizes).toEqual([WINDOW + 1, WINDOW]);
    s.release();
    expect(s.native.resumes).toBe(1);
    clock.advance(10 * CONNECTION_TOP_UP_MS);
    expect(session.sizes).toHaveLength(2);
    expect(clock.pending).toBe(0);
    // Held again: the timer starts again.
    s.hold();
    clock.advance(CONNECTION_TOP_UP_MS);
    expect(session.sizes).toHaveLength(3);
  });

  test("one timer per session however many of its streams are held", () => {
    const clock = new ManualClock();
    const session = fakeSession();
    const a = gated(clock, session);
    const b = gated(clock, session);
    a.hold();
    b.hold();
    expect(clock.pending).toBe(1);
    clock.advance(3 * CONNECTION_TOP_UP_MS);
    expect(session.sizes).toHaveLength(3);
    a.release();
    clock.advance(CONNECTION_TOP_UP_MS);
    expect(session.sizes).toHaveLength(4);
    b.stream.emit("close");
    clock.advance(5 * CONNECTION_TOP_UP_MS);
    expect(session.sizes).toHaveLength(4);
    expect(clock.pending).toBe(0);
  });

  test("a session gone while a stream is held: the timer stops without touching it", () => {
    const clock = new ManualClock();
    const session = fakeSession();
    gated(clock, session).hold();
    session.destroyed = true;
    clock.advance(CONNECTION_TOP_UP_MS);
    expect(session.sizes).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});

describe("a stream held back for HELD_BACK_MS tells the process's GC pacer", () => {
  test("a hold that lasts HELD_BACK_MS runs the held rule's collection; a fast transfer's shorter holds do not", () => {
    const stop = processGcPacer.start(
      { ...DEFAULT_GC_PACER, held: { minBytes: 1, quietMs: 0, budgetShare: 1 } },
      "gateway",
    );
    try {
      const heldCollections = () => processGcPacer.running?.heldCollections ?? 0;
      const before = heldCollections();
      const clock = new ManualClock();
      const s = gated(clock, fakeSession());
      noteRelayAllocation(64 * 1024, "gateway");
      for (let i = 0; i < 5; i++) {
        s.hold(); // grpc-js pauses after each message...
        clock.advance(HELD_BACK_MS - 1);
        s.release(); // ...and resumes for the next one
        clock.advance(1);
      }
      expect(heldCollections()).toBe(before);
      s.hold();
      clock.advance(HELD_BACK_MS + CONNECTION_TOP_UP_MS);
      expect(heldCollections()).toBe(before + 1);
    } finally {
      stop();
    }
  });
});
