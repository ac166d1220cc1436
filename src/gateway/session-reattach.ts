import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DataAction, type DataMessage } from "../proto/messages.ts";
import { counterPairs, MetadataKey, ResumeHeader } from "../proto/metadata.ts";
import { gateCallReads, type ReadGateWatch } from "../relay/http2-read-gate.ts";
import { type CallPort, ResumableCall } from "../relay/resumable-call.ts";
import type { HeldSessions } from "./held-sessions.ts";

/**
 * The gateway's Data calls of sessions it can hold for their next stream (after a lost
 * stream with resume, or a completed RESTART), and the re-attach of such a session to a
 * new stream (docs/resilience.md, docs/wire-protocol.md "Graceful RESTART").
 */
type DataCall = grpc.ServerDuplexStream<DataMessage, DataMessage>;

/** The Data call's response headers: counters, and the `resume` answer when given. */
export function countersMetadata(up: number, down: number, resume?: string): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [key, value] of counterPairs(up, down)) md.set(key, value);
  if (resume) md.set(MetadataKey.RESUME, resume);
  return md;
}

/** See CallPort.endSettleMs. */
const END_SETTLE_MS = 200;

export function serverCallPort(call: DataCall): CallPort {
  return {
    call,
    abort: () => call.emit("error", { code: grpc.status.ABORTED, details: "session killed" }),
    onCancelled: (listener) => call.once("cancelled", listener),
    endSettleMs: END_SETTLE_MS,
    server: true,
  };
}

/**
 * The Data call of a session this gateway can hold: after a completed RESTART (any agent
 * that follows the contract re-opens with its counters) and, when the agent offered resume,
 * after a lost stream (its replay buffer then keeps what the agent has not acknowledged).
 */
export function holdable(
  call: DataCall,
  resume: { held: HeldSessions; limitBytes: number },
  sessionId: string,
  offered: boolean,
  holdOnRestart: () => boolean,
  log: Logger,
): ResumableCall {
  const resumable: ResumableCall = new ResumableCall(serverCallPort(call), {
    clock: resume.held.clock,
    // Without acknowledgements nothing could be let go: only a RESTART re-attaches.
    limitBytes: offered ? resume.limitBytes : 0,
    onLost: (error) => {
      log.info("Data stream lost: holding the session for a resume", {
        error: errorMessage(error),
        grace_ms: resume.held.graceMs,
      });
      resume.held.lost(sessionId, () =>
        resumable.fail(new Error("the agent did not resume the session in time")),
      );
    },
    holdOnRestart,
    onRestarted: () => {
      log.info("RESTART completed: holding the far end for the session's next Data stream", {
        grace_ms: resume.held.graceMs,
        counters: resumable.counters,
      });
      resume.held.lost(sessionId, () =>
        resumable.fail(new Error("the agent did not re-open the session in time")),
      );
    },
  });
  if (offered) resumable.setAckSink((received) => resume.held.sendAck(sessionId, received));
  else resumable.disable();
  return resumable;
}

/**
 * A stream with counters 0 for a held session that has carried messages: the agent kept
 * nothing of it (a bridge's new far end after the old one was lost, not a resume), so the
 * counters could never fit. The caller closes the held far end and opens a new one.
 */
export function startsOver(held: ResumableCall, up: number, down: number): boolean {
  const ours = held.counters;
  return up === 0 && down === 0 && (ours.sent > 0 || ours.received > 0);
}

/** How long a re-opened stream waits for the RESTART exchange of the old one to complete. */
const RESTART_SETTLE_MS = 3_000;

/**
 * A new stream for a session this gateway holds: answer with our counters (counter-up =
 * messages received, counter-down = sent), then re-attach; counters that do not fit end
 * the new stream with KILL and the held session with it.
 */
export async function reattachHeld(
  call: DataCall,
  held: ResumableCall,
  agent: { sent: number; received: number },
  offered: boolean,
  log: Logger,
  readGate: ReadGateWatch,
  clock: Clock,
): Promise<void> {
  if (held.restarting) {
    // Our RESTART's answer may still be on its way on the old stream: let it arrive first.
    await new Promise<void>((resolve) => {
      const timer = clock.schedule(RESTART_SETTLE_MS, resolve);
      held.once("restarted", () => {
        timer.cancel();
        resolve();
      });
    });
  }
  // The agent may be faster than our noticing that the old stream is gone.
  held.detach();
  if (!held.detached) {
    // The session is ending (KILL or RESTART sent): there is nothing to resume.
    log.info("refused to resume a session that is ending");
    call.sendMetadata(countersMetadata(0, 0));
    call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
    call.end();
    return;
  }
  const ours = held.counters;
  call.sendMetadata(
    countersMetadata(ours.received, ours.sent, offered ? ResumeHeader.RESUMED : undefined),
  );
  gateCallReads(call, readGate, clock);
  const error = held.attach(serverCallPort(call), agent);
  if (error) {
    log.warn("re-attach refused: the counters do not match, killing the session", {
      error: error.message,
    });
    call.write({ action: DataAction.KILL, data: [] } satisfies DataMessage);
    call.end();
    held.fail(error);
    return;
  }
  log.info("session re-attached to its far end on a new Data stream", {
    "counter-up": agent.sent,
    "counter-down": agent.received,
    replayed_from: agent.received,
  });
}
