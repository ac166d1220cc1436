import type { FiveTuple } from "../proto/messages.ts";
import type { RelayCounters } from "../relay/stream-relay.ts";
import type { BridgeSnapshot } from "./bridge/bridge-state.ts";

/**
 * What the agent shows of one router session (status API, metrics, export): its state and
 * what its Data streams relayed. A bridged or resumed session has had several streams.
 */
export type SessionState =
  | "admitting"
  | "opening"
  | "relaying"
  | "resuming"
  | "bridging"
  | "closed";

export interface SessionSnapshot {
  sessionId: string;
  tuple: FiveTuple;
  state: SessionState;
  connectedSince: number;
  deviceName?: string;
  serverMetadata?: Record<string, string[]>;
  bytesUp: number;
  bytesDown: number;
  messagesUp: number;
  messagesDown: number;
  bufferedBytes: number;
  /** Socket reads of the current Data stream (one per "data" event; a cost driver under load). */
  readsUp?: number;
  /** BGP-aware bridging of the session, when it is on. */
  bridge?: BridgeSnapshot;
  /** Data streams this session was re-attached to by resume (resume on). */
  resumes?: number;
}

/** What a session's Data streams relayed, in the snapshot's terms. */
export interface StreamTotals {
  bytesUp: number;
  bytesDown: number;
  messagesUp: number;
  messagesDown: number;
}

export const NO_STREAM_TOTALS: StreamTotals = {
  bytesUp: 0,
  bytesDown: 0,
  messagesUp: 0,
  messagesDown: 0,
};

/** `earlier` plus what the current stream's relay counted (none: `earlier`). */
export function streamTotals(earlier: StreamTotals, current?: RelayCounters): StreamTotals {
  return {
    bytesUp: earlier.bytesUp + (current?.bytesFromSocket ?? 0),
    bytesDown: earlier.bytesDown + (current?.bytesToSocket ?? 0),
    messagesUp: earlier.messagesUp + (current?.messagesSent ?? 0),
    messagesDown: earlier.messagesDown + (current?.messagesReceived ?? 0),
  };
}
