/**
 * A Data call stand-in for relay tests: it records what is written to it (each write
 * completes at once) and whether it was ended; the test emits what it receives.
 */
import { EventEmitter } from "node:events";
import type { DataMessage } from "../../src/proto/messages.ts";

export class RecordingCall extends EventEmitter {
  readonly written: DataMessage[] = [];
  writableEnded = false;
  destroyed = false;
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
