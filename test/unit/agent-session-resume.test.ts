/**
 * SessionResume's window is a timer: a resume attempt that never answers (a dial into a
 * partition) is cancelled when `windowMs` ends, and the session falls back (the relay sees
 * the call error it would have seen without resume: bridging or a close).
 */
import { describe, expect, test } from "bun:test";
import type * as grpc from "@grpc/grpc-js";
import type { ChannelPool, PooledChannel } from "../../src/agent/channel-pool.ts";
import { SessionResume } from "../../src/agent/session-resume.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/logger.ts";
import type { DataMessage } from "../../src/proto/messages.ts";
import { ResumableCall } from "../../src/relay/resumable-call.ts";
import type { MessageStream } from "../../src/relay/stream-relay.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RecordingCall } from "../support/recording-call.ts";

/** A Data call that never answers (no metadata, no error) until cancelled. */
class HangingCall extends RecordingCall {
  cancelled = 0;
  cancel(): void {
    this.cancelled++;
  }
}

function setup(windowMs: number) {
  const clock = new ManualClock();
  const first = new HangingCall();
  const resumable = new ResumableCall(
    { call: first as unknown as MessageStream, abort: () => first.cancel() },
    { clock, limitBytes: 1024, onLost: () => {} },
  );
  resumable.detach(); // the first stream was lost
  const errors: Error[] = [];
  resumable.on("error", (e: Error) => errors.push(e));
  const dials: HangingCall[] = [];
  let released = 0;
  const pool = {
    acquire(): PooledChannel {
      return {
        id: dials.length,
        client: {
          data: () => {
            const call = new HangingCall();
            dials.push(call);
            return call as unknown as grpc.ClientDuplexStream<DataMessage, DataMessage>;
          },
        } as unknown as PooledChannel["client"],
        release: () => released++,
      };
    },
  } as unknown as ChannelPool;
  const resume = new SessionResume({
    resumable,
    pool,
    clock,
    logger: silentLogger,
    windowMs,
    pairs: () => [],
    onResumed: () => {
      throw new Error("nothing answers: never resumed");
    },
  });
  return { clock, resume, resumable, errors, dials, released: () => released };
}

describe("SessionResume window", () => {
  test("a hung attempt is cancelled when the window ends, and the session falls back", () => {
    const { clock, resume, errors, dials, released } = setup(5_000);
    resume.attempt();
    expect(dials.length).toBe(1);
    clock.advance(4_999);
    expect(errors.length).toBe(0); // still within the window
    expect(dials[0]?.cancelled).toBe(0);
    clock.advance(1);
    expect(errors.map((e) => e.message)).toEqual(["the session could not be resumed in time"]);
    // A typed error: the session falls back, resuming is not retried.
    expect(errors[0]).toBeInstanceOf(BgpProxyError);
    expect(errors[0]).toMatchObject({ kind: "transport", retryable: false });
    expect(dials[0]?.cancelled).toBe(1);
    expect(released()).toBe(1);
    // A late error of the cancelled call changes nothing (no redial, no second release).
    dials[0]?.emit("error", new Error("cancelled"));
    clock.advance(10_000);
    expect(dials.length).toBe(1);
    expect(released()).toBe(1);
    expect(errors.length).toBe(1);
  });

  test("cancel() ends the attempt in progress and the window", () => {
    const { clock, resume, errors, dials, released } = setup(5_000);
    resume.attempt();
    resume.cancel();
    expect(dials[0]?.cancelled).toBe(1);
    expect(released()).toBe(1);
    clock.advance(10_000);
    expect(errors.length).toBe(0);
  });

  test("the window ends while a redial waits: no timer is left behind", () => {
    const { clock, resume, errors, dials } = setup(50);
    resume.attempt();
    dials[0]?.emit("error", new Error("unavailable")); // redial in RESUME_REDIAL_MS.first
    expect(clock.pending).toBe(2);
    clock.advance(50);
    expect(errors.map((e) => e.message)).toEqual(["the session could not be resumed in time"]);
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(dials.length).toBe(1);
  });

  test("cancel and the window's end drop an attempt alike: released and cancelled first", () => {
    for (const end of ["window", "cancel"] as const) {
      const { clock, resume, resumable, dials, released } = setup(5_000);
      resume.attempt();
      // What the session sees when it falls back: the attempt is already gone.
      const seen: Array<{ cancelled: number; released: number }> = [];
      resumable.on("error", () =>
        seen.push({ cancelled: dials[0]?.cancelled ?? -1, released: released() }),
      );
      if (end === "window") clock.advance(5_000);
      else resume.cancel();
      expect({
        cancelled: dials[0]?.cancelled,
        released: released(),
        pending: clock.pending,
      }).toEqual({
        cancelled: 1,
        released: 1,
        pending: 0,
      });
      expect(seen).toEqual(end === "window" ? [{ cancelled: 1, released: 1 }] : []);
    }
  });
});
