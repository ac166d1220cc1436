import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import type { DataMessage } from "../../src/proto/messages.ts";
import { type MessageStream, StreamRelay } from "../../src/relay/stream-relay.ts";

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

function setup() {
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const call = new RecordingCall();
  const relay = new StreamRelay(socket, call as unknown as MessageStream, {
    onEnd: () => {},
    abortCall: () => {},
  });
  relay.start();
  return { socket, call, relay };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const text = (m: DataMessage | undefined) => (m?.data ?? []).map((c) => Buffer.from(c).toString());

describe("StreamRelay coalescing", () => {
  test("a chunk read while nothing is outstanding goes at once, alone", async () => {
    const { socket, call } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    expect(call.written.map(text)).toEqual([["a"]]);
  });

  test("chunks read while a message is outstanding go together when it completes", async () => {
    const { socket, call, relay } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    for (const c of ["b", "c", "d"]) {
      socket.push(Buffer.from(c));
      await tick();
    }
    expect(call.written.length).toBe(1);
    expect(relay.bufferedBytes).toBe(4);
    call.complete();
    expect(call.written.map(text)).toEqual([["a"], ["b", "c", "d"]]);
    expect(relay.counters.messagesSent).toBe(2);
    call.complete();
    expect(relay.bufferedBytes).toBe(0);
    socket.push(Buffer.from("e")); // idle again: no waiting
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["b", "c", "d"], ["e"]]);
  });

  test("the socket's end sends what is pending before ending the call", async () => {
    const { socket, call } = setup();
    socket.push(Buffer.from("a"));
    await tick();
    socket.push(Buffer.from("b"));
    socket.push(null);
    await tick();
    await tick();
    expect(call.written.map(text)).toEqual([["a"], ["b"]]);
    expect(call.endedAfter).toBe(2);
  });
});
