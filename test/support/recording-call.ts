/**
 * A Data call stand-in for relay tests: it records what is written to it (each write
 * completes at once, or with `holdWrites` when the test calls `complete()`) and whether it
 * was ended; the test emits what it receives.
 * `startSinkRelay` puts one (or another call) behind a StreamRelay.
 */
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import type { DataMessage } from "../../src/proto/messages.ts";
import {
  type MessageStream,
  type RelayOptions,
  StreamRelay,
} from "../../src/relay/stream-relay.ts";

export class RecordingCall extends EventEmitter {
  readonly written: DataMessage[] = [];
  writableEnded = false;
  destroyed = false;
  /** Keep each write outstanding until `complete()` (a busy HTTP/2 stream). */
  holdWrites = false;
  private readonly held: Array<() => void> = [];
  write(message: DataMessage, callback?: (error?: Error | null) => void): boolean {
    this.written.push({ ...message });
    if (this.holdWrites) this.held.push(() => callback?.());
    else callback?.();
    return true;
  }
  /** Complete the oldest outstanding write. */
  complete(): void {
    this.held.shift()?.();
  }
  end(): void {
    this.writableEnded = true;
  }
  pause(): void {}
  resume(): void {}
}

/**
 * A started StreamRelay between a socket that takes every write at once (the test pushes what
 * it reads) and `call` (a RecordingCall or the test's own); `options` as StreamRelay's,
 * `abortCall` and `onEnd` no-ops unless given; `shape` may alter the socket first.
 */
export function startSinkRelay(
  call: unknown,
  options: Partial<RelayOptions> = {},
  shape: (socket: Duplex) => Duplex = (socket) => socket,
) {
  const socket = shape(
    new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    }),
  );
  const relay = new StreamRelay(socket, call as MessageStream, {
    onEnd: () => {},
    abortCall: () => {},
    ...options,
  });
  relay.start();
  return { socket, relay };
}
