/**
 * The read gate's connection-window top-up (src/relay/http2-read-gate.ts) runs on the clock
 * it is given: every CONNECTION_TOP_UP_MS while one of the session's streams is held, never
 * earlier, and not at all once nothing is held or the session is gone.
 */
import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { Http2Session, Http2Stream } from "node:http2";
import { AdaptiveStreamWindow } from "../../src/relay/adaptive-stream-window.ts";
import {
  adaptStreamWindow,
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

describe("a session's adaptive stream window, told by its read gates", () => {
  const KiB = 1024;
  function adaptive(clock: ManualClock) {
    const session = fakeSession();
    const applied: number[] = [];
    const window = new AdaptiveStreamWindow(
      { min: 256 * KiB, max: 2048 * KiB, growAfterWindows: 4 },
      (size) => applied.push(size),
    );
    adaptStreamWindow(session as unknown as Http2Session, window);
    return { session, window, applied, s: gated(clock, session) };
  }

  test("grows with the DATA received; a stream held for HELD_BACK_MS brings it back to min", () => {
    const clock = new ManualClock();
    const { window, applied, s } = adaptive(clock);
    for (let i = 0; i < 7 * 64; i++) s.stream.emit("data", new Uint8Array(16 * KiB));
    expect(window.size).toBe(2048 * KiB);
    s.hold();
    clock.advance(2 * CONNECTION_TOP_UP_MS);
    expect(window.size).toBe(2048 * KiB);
    clock.advance(HELD_BACK_MS - 2 * CONNECTION_TOP_UP_MS);
    clock.advance(CONNECTION_TOP_UP_MS); // the first tick at or after HELD_BACK_MS
    expect(window.size).toBe(256 * KiB);
    expect(applied).toEqual([256, 512, 1024, 2048, 256].map((k) => k * KiB));
  });

  test("holds that each last less than HELD_BACK_MS (a fast transfer's pauses) do not shrink it", () => {
    const clock = new ManualClock();
    const { window, s } = adaptive(clock);
    for (let i = 0; i < 7 * 64; i++) s.stream.emit("data", new Uint8Array(16 * KiB));
    for (let i = 0; i < 20; i++) {
      s.hold(); // grpc-js pauses after each message...
      clock.advance(HELD_BACK_MS - 1);
      s.release(); // ...and resumes for the next one
      s.stream.emit("data", new Uint8Array(16 * KiB));
      clock.advance(1);
    }
    expect(window.size).toBe(2048 * KiB);
  });
});
