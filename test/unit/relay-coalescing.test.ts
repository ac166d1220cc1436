import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { DataMessage } from "../../src/proto/messages.ts";
import {
  PACE_BELOW_BYTES,
  PACE_HOLD_MS,
  PACE_MS,
  PACE_STREAK,
} from "../../src/relay/stream-relay.ts";
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

function setup(highWaterMark?: number) {
  const call = new RecordingCall();
  const { socket, relay } = startSinkRelay(call, { highWaterMark });
  return { socket, call, relay };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** Longer than PACE_MS and PACE_HOLD_MS: reads this far apart are not paced, a hold is over. */
const pause = () => Bun.sleep(Math.max(PACE_MS, PACE_HOLD_MS) * 5);
const text = (m: DataMessage | undefined) => (m?.data ?? []).map((c) => Buffer.from(c).toString());

describe("StreamRelay coalescing", () => {
  test("a chunk read while nothing is outstanding goes at once, alone", async () => {
    const { socket, call } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    expect(call.written.map(text)).toEqual([["a"]]);
  });

  test("chunks read while a message is outstanding go together, as one chunk, when it completes", async () => {
    const { socket, call, relay } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    for (const c of ["b", "c", "d"]) {
      await pause(); // not paced: only coalescing behind the outstanding write
      socket.push(Buffer.from(c));
      await tick();
    }
    expect(call.written.length).toBe(1);
    expect(relay.bufferedBytes).toBe(4);
    call.complete();
    expect(call.written.map(text)).toEqual([["a"], ["bcd"]]);
    expect(relay.counters.messagesSent).toBe(2);
    expect(relay.counters.socketReads).toBe(4);
    call.complete();
    expect(relay.bufferedBytes).toBe(0);
    await pause();
    socket.push(Buffer.from("e")); // idle again: no waiting
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["bcd"], ["e"]]);
  });

  test("the socket's end sends what is pending before ending the call", async () => {
    const { socket, call } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    socket.push(Buffer.from("b"));
    socket.push(null);
    await pause();
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["b"]]);
    expect(call.endedAfter).toBe(2);
  });

  test("small reads in quick succession pause the socket for PACE_MS, so the next read is larger", async () => {
    const { socket, call, relay } = setup();
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
    await pause();
    await tick();
    // The paused socket's buffer is read at once: "c" goes, "d" and "e" behind it.
    call.complete();
    expect(call.written.map(text)).toEqual([["a"], ["b"], ["c"], ["de"]]);
  });

  test("a sustained stream of small reads is held PACE_HOLD_MS, a lone quick pair PACE_MS", async () => {
    const { socket, call } = setup();
    /** One read goes; a second right after it starts a hold: how long the socket stays paused. */
    const hold = async (): Promise<number> => {
      socket.push(Buffer.from("a"));
      await tick();
      call.complete();
      // Before the read that starts the hold: what is measured is at least the hold.
      const t0 = performance.now();
      socket.push(Buffer.from("b"));
      await tick();
      call.complete();
      expect(socket.isPaused()).toBe(true);
      while (socket.isPaused()) await Bun.sleep(0.1);
      return performance.now() - t0;
    };
    // Lone holds (far apart): PACE_MS each; the shortest of three, for a loaded machine.
    const lone: number[] = [];
    for (let i = 0; i < 3; i++) {
      lone.push(await hold());
      await pause();
    }
    expect(Math.min(...lone)).toBeLessThan((PACE_MS + PACE_HOLD_MS) / 2);
    // Holds back to back: from the PACE_STREAK-th on, PACE_HOLD_MS.
    const streak: number[] = [];
    for (let i = 0; i <= PACE_STREAK + 1; i++) streak.push(await hold());
    expect(streak.at(-1)).toBeGreaterThanOrEqual(PACE_HOLD_MS);
    expect(streak.at(-2)).toBeGreaterThanOrEqual(PACE_HOLD_MS);
  });

  test("large reads are not paced", async () => {
    const { socket, call } = setup();
    const big = Buffer.alloc(PACE_BELOW_BYTES, 1);
    for (let i = 0; i < 3; i++) {
      socket.push(big);
      await tick();
      call.complete();
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
    return parts;
  }

  test("the pacing timer does not resume a socket back-pressure holds", async () => {
    const { socket, call } = await bothHolding();
    await pause(); // the pacing timer fired
    await tick();
    expect(socket.isPaused()).toBe(true);
    call.complete(); // "a" accepted: 3 bytes in flight, above half the mark
    expect(socket.isPaused()).toBe(true);
    call.complete(); // "bcd" accepted: nothing in flight
    expect(socket.isPaused()).toBe(false);
  });

  test("back-pressure released does not resume a socket pacing holds", async () => {
    const { socket, call } = await bothHolding();
    call.complete();
    call.complete(); // nothing in flight, within PACE_MS of "bcd"
    expect(socket.isPaused()).toBe(true);
    await pause();
    await tick();
    expect(socket.isPaused()).toBe(false);
  });
});
