import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { decodeDataMessage, encodeDataMessage } from "../../src/proto/codec.ts";
import type { DataMessage } from "../../src/proto/messages.ts";
import {
  PACE_BELOW_BYTES,
  PACE_HOLD_MS,
  PACE_MS,
  PACE_STREAK,
  PACE_STREAK_MS,
} from "../../src/relay/read-pacer.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { startSinkRelay } from "../support/recording-call.ts";

/** A call that records writes and completes them only when told to. */
class RecordingCall extends EventEmitter {
  readonly written: DataMessage[] = [];
  readonly callbacks: Array<() => void> = [];
  writableEnded = false;
  destroyed = false;
  endedAfter = -1;

  write(message: DataMessage, callback?: (error?: Error | null) => void): boolean {
    this.written.push(message);
    this.callbacks.push(() => callback?.());
    return true;
  }
  end(): void {
    this.writableEnded = true;
    this.endedAfter = this.written.length;
  }
  pause(): void {}
  resume(): void {}
  /** Complete the oldest outstanding write. */
  complete(): void {
    this.callbacks.shift()?.();
  }
}

/**
 * Pacing time is the relay's clock, moved only by the test (from 0: halves of a ms are exact),
 * so no assertion here depends on the machine's load.
 */
function setup(highWaterMark?: number) {
  const call = new RecordingCall();
  const clock = new ManualClock(0);
  const { socket, relay } = startSinkRelay(call, { highWaterMark, clock });
  /** Longer than PACE_MS and PACE_HOLD_MS: reads this far apart are not paced, a hold is over. */
  const pause = () => clock.advance(Math.max(PACE_MS, PACE_HOLD_MS) * 5);
  return { socket, call, relay, clock, pause };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** The chunks of a written message as the peer decodes them (coalesced reads: one chunk). */
const text = (m: DataMessage | undefined) =>
  m === undefined
    ? []
    : decodeDataMessage(encodeDataMessage(m)).data.map((c) => Buffer.from(c).toString());
/** Clock steps when measuring a hold: a hold's length is a multiple of this. */
const STEP_MS = 0.5;

describe("StreamRelay coalescing", () => {
  test("a chunk read while nothing is outstanding goes at once, alone", async () => {
    const { socket, call } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    expect(call.written.map(text)).toEqual([["a"]]);
  });

  test("chunks read while a message is outstanding go together, as one chunk, when it completes", async () => {
    const { socket, call, relay, pause } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    for (const c of ["b", "c", "d"]) {
      pause(); // not paced: only coalescing behind the outstanding write
      socket.push(Buffer.from(c));
      await tick();
      expect(socket.isPaused()).toBe(false);
    }
    expect(call.written.length).toBe(1);
    expect(relay.bufferedBytes).toBe(4);
    call.complete();
    expect(call.written.map(text)).toEqual([["a"], ["bcd"]]);
    // The three reads go to the encoder as they are, joined there (no buffer in between).
    expect(call.written[1]?.data.length).toBe(3);
    expect(call.written[1]?.joined).toBe(true);
    expect(call.written[0]?.joined).toBe(false);
    expect(relay.counters.messagesSent).toBe(2);
    expect(relay.counters.socketReads).toBe(4);
    call.complete();
    expect(relay.bufferedBytes).toBe(0);
    pause();
    socket.push(Buffer.from("e")); // idle again: no waiting
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["bcd"], ["e"]]);
  });

  test("the socket's end sends what is pending before ending the call", async () => {
    const { socket, call, pause } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    socket.push(Buffer.from("b"));
    socket.push(null);
    await tick();
    pause();
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["b"]]);
    expect(call.endedAfter).toBe(2);
  });

  test("small reads in quick succession pause the socket for PACE_MS, so the next read is larger", async () => {
    const { socket, call, relay, clock } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    call.complete();
    socket.push(Buffer.from("b")); // less than PACE_MS after "a" went: goes, then the socket waits
    await tick();
    call.complete();
    for (const c of ["c", "d", "e"]) socket.push(Buffer.from(c));
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["b"]]);
    expect(relay.counters.socketReads).toBe(2);
    clock.advance(PACE_MS - STEP_MS);
    await tick();
    expect(relay.counters.socketReads).toBe(2); // still held
    clock.advance(STEP_MS);
    await tick();
    // The socket reads again: "c" goes; "d" and "e", read behind it from the socket's buffer,
    // wait for "c" and then go together. "e", the last one queued and read less than PACE_MS
    // after "c" went, holds the socket again.
    expect(call.written.map(text)).toEqual([["a"], ["b"], ["c"]]);
    expect(relay.counters.socketReads).toBe(5);
    expect(socket.isPaused()).toBe(true);
    call.complete();
    expect(call.written.map(text)).toEqual([["a"], ["b"], ["c"], ["de"]]);
  });

  test("chunks queued in the socket's buffer during a hold are all read when it ends, not one per hold", async () => {
    // Bun queues what it reads while a socket is paused as one chunk per read, often one
    // BGP UPDATE each: pacing each of them would take a hold per ~80 bytes.
    const { socket, call, relay, clock } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    call.complete();
    socket.push(Buffer.from("b")); // streaming: the socket is held
    await tick();
    const queued = 50;
    for (let i = 0; i < queued; i++) socket.push(Buffer.from("x"));
    await tick();
    expect(relay.counters.socketReads).toBe(2);
    expect(socket.readableLength).toBe(queued);
    call.complete(); // "b": nothing outstanding, so the first "x" goes at once
    clock.advance(PACE_MS);
    await tick();
    expect(relay.counters.socketReads).toBe(2 + queued);
    expect(socket.readableLength).toBe(0);
    call.complete(); // the first "x": the rest of the backlog goes as one message
    expect(call.written.map(text)).toEqual([["a"], ["b"], ["x"], ["x".repeat(queued - 1)]]);
  });

  test("a small read counts as streaming less than PACE_MS after the previous message, not at PACE_MS", async () => {
    /** Whether a read `gapMs` after the previous message went (of `bytes`) pauses the socket. */
    const paced = async (gapMs: number, bytes = 1): Promise<boolean> => {
      const { socket, call, clock } = setup();
      socket.push(Buffer.from("a"));
      await tick();
      call.complete();
      clock.advance(gapMs);
      socket.push(Buffer.alloc(bytes, 0x62));
      await tick();
      expect(call.written.length).toBe(2); // it went at once either way
      return socket.isPaused();
    };
    expect(await paced(0)).toBe(true);
    expect(await paced(PACE_MS - STEP_MS)).toBe(true);
    expect(await paced(PACE_MS)).toBe(false);
    expect(await paced(0, PACE_BELOW_BYTES - 1)).toBe(true);
    expect(await paced(0, PACE_BELOW_BYTES)).toBe(false);
  });

  describe("hold lengths: PACE_MS, PACE_HOLD_MS in a sustained stream", () => {
    /**
     * A relay and `hold()`: one read goes; a second right after it starts a hold; the clock
     * then moves in STEP_MS steps until the socket reads again: the hold's length, in ms.
     */
    function holds() {
      const { socket, call, clock } = setup();
      const hold = async (): Promise<number> => {
        socket.push(Buffer.from("a"));
        await tick();
        call.complete();
        expect(socket.isPaused()).toBe(false); // "a" itself was not paced
        socket.push(Buffer.from("b"));
        await tick();
        call.complete();
        expect(socket.isPaused()).toBe(true);
        let held = 0;
        for (let i = 0; socket.isPaused() && i < 1_000; i++) {
          clock.advance(STEP_MS);
          held += STEP_MS;
        }
        expect(socket.isPaused()).toBe(false);
        return held;
      };
      return { hold, clock };
    }
    const short = (n: number) => Array<number>(n).fill(PACE_MS);

    test("holds far apart last PACE_MS each", async () => {
      const { hold, clock } = holds();
      const lone: number[] = [];
      for (let i = 0; i < PACE_STREAK + 2; i++) {
        lone.push(await hold());
        clock.advance(PACE_STREAK_MS * 2);
      }
      expect(lone).toEqual(short(PACE_STREAK + 2));
    });

    test("back to back, the hold with PACE_STREAK holds before it and those after last PACE_HOLD_MS", async () => {
      const { hold } = holds();
      const streak: number[] = [];
      for (let i = 0; i < PACE_STREAK + 3; i++) streak.push(await hold());
      expect(streak).toEqual([...short(PACE_STREAK), PACE_HOLD_MS, PACE_HOLD_MS, PACE_HOLD_MS]);
    });

    test("a gap under PACE_STREAK_MS between holds keeps the streak, PACE_STREAK_MS + 1 resets it", async () => {
      const { hold, clock } = holds();
      const seen: number[] = [];
      for (let i = 0; i <= PACE_STREAK; i++) seen.push(await hold());
      expect(seen.at(-1)).toBe(PACE_HOLD_MS);
      // From one hold's start to the next: its length, then the wait.
      clock.advance(PACE_STREAK_MS - 1 - PACE_HOLD_MS);
      expect(await hold()).toBe(PACE_HOLD_MS);
      clock.advance(PACE_STREAK_MS + 1 - PACE_HOLD_MS);
      const after: number[] = [];
      for (let i = 0; i <= PACE_STREAK; i++) after.push(await hold());
      expect(after).toEqual([...short(PACE_STREAK), PACE_HOLD_MS]);
    });
  });

  test("a small read soon after the previous read is paced while a message is outstanding", async () => {
    const { socket, call, clock } = setup();
    socket.push(Buffer.from("a")); // goes, and stays outstanding
    await tick();
    clock.advance(PACE_MS * 5);
    socket.push(Buffer.from("b")); // long after "a" went: read, waits for "a", not paced
    await tick();
    expect(socket.isPaused()).toBe(false);
    clock.advance(PACE_MS - STEP_MS);
    socket.push(Buffer.from("c")); // soon after "b" was read: paced, though no message went
    await tick();
    expect(socket.isPaused()).toBe(true);
    call.complete();
    expect(call.written.map(text)).toEqual([["a"], ["bc"]]);
  });

  test("the socket reads one chunk ahead: while held, the first chunk queued says stop", async () => {
    // The native side of a socket stops reading when push() returns false; Bun's pause()
    // alone does not stop it.
    const { socket, call } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    call.complete();
    socket.push(Buffer.from("b")); // streaming: held
    await tick();
    expect(socket.isPaused()).toBe(true);
    expect(socket.push(Buffer.from("c"))).toBe(false);
  });

  test("bytes waiting before the socket (upstreamBacklog: a bridge's router socket) are a backlog: not held", async () => {
    // Behind a session bridge the relay reads the bridge's port; what the router's socket
    // already read waits there, out of the port's readable buffer. Holding for each chunk
    // let one or two ~1,500-byte segments through per 8 ms hold in a full table.
    const held = async (upstream: number): Promise<boolean> => {
      const call = new RecordingCall();
      const { socket } = startSinkRelay(call, {
        clock: new ManualClock(0),
        upstreamBacklog: () => upstream,
      });
      socket.push(Buffer.from("a"));
      await tick();
      call.complete();
      socket.push(Buffer.from("b")); // streaming, were it not for the backlog
      await tick();
      return socket.isPaused();
    };
    expect(await held(0)).toBe(true);
    expect(await held(1_448)).toBe(false);
  });

  test("large reads are not paced", async () => {
    const { socket, call } = setup();
    const big = Buffer.alloc(PACE_BELOW_BYTES, 1);
    for (let i = 0; i < 3; i++) {
      socket.push(big);
      await tick();
      call.complete();
      expect(socket.isPaused()).toBe(false);
    }
    expect(call.written.length).toBe(3);
  });
});

describe("StreamRelay: back-pressure and read pacing both pause the socket", () => {
  /** "a" goes at once; "bcd" (< PACE_MS later) starts pacing and reaches the high-water mark. */
  async function bothHolding() {
    const parts = setup(4);
    parts.socket.emit("data", Buffer.from("a"));
    parts.socket.emit("data", Buffer.from("bcd"));
    expect(parts.relay.bufferedBytes).toBe(4);
    expect(parts.socket.isPaused()).toBe(true);
    expect(parts.clock.pending).toBe(1); // the pacing timer
    return parts;
  }

  test("the pacing timer does not resume a socket back-pressure holds", async () => {
    const { socket, call, clock } = await bothHolding();
    clock.advance(PACE_MS); // the pacing timer fires
    expect(clock.pending).toBe(0);
    await tick();
    expect(socket.isPaused()).toBe(true);
    call.complete(); // "a" accepted: 3 bytes in flight, above half the mark
    expect(socket.isPaused()).toBe(true);
    call.complete(); // "bcd" accepted: nothing in flight
    expect(socket.isPaused()).toBe(false);
  });

  test("back-pressure released does not resume a socket pacing holds", async () => {
    const { socket, call, clock } = await bothHolding();
    call.complete();
    call.complete(); // nothing in flight, within PACE_MS of "bcd"
    expect(socket.isPaused()).toBe(true);
    clock.advance(PACE_MS);
    await tick();
    expect(socket.isPaused()).toBe(false);
  });
});

describe("StreamRelay's default clock", () => {
  /**
   * Without an injected clock, pacing must read monotonicClock (performance.now(), sub-ms),
   * not systemClock (Date.now(), whole ms). Both sources are replaced for the test, so no real
   * time is involved: performance.now() steps 0.1 ms per call (reads that close are streaming),
   * Date.now() 1,000 ms per call (reads that far apart are not).
   */
  test("is monotonicClock: pacing sees performance.now()'s gaps, not Date.now()'s", () => {
    const realPerformanceNow = performance.now;
    const realDateNow = Date.now;
    let monotonic = 0;
    let epoch = 1_700_000_000_000;
    performance.now = () => {
      monotonic += 0.1;
      return monotonic;
    };
    Date.now = () => {
      epoch += 1_000;
      return epoch;
    };
    try {
      const call = new RecordingCall();
      const { socket, relay } = startSinkRelay(call);
      socket.emit("data", Buffer.from("a"));
      socket.emit("data", Buffer.from("b"));
      expect(monotonic).toBeGreaterThan(0); // the relay read performance.now()
      expect(socket.isPaused()).toBe(true); // ... and "b" came < PACE_MS after "a": a hold
      relay.abort(); // cancels the (real) pacing timer
    } finally {
      performance.now = realPerformanceNow;
      Date.now = realDateNow;
    }
  });
});
