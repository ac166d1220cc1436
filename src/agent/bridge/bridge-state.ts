/**
 * The states of a bridged router session and their legal moves, the actions the pure
 * bridge (bgp-bridge.ts) asks its edge to carry out, its options and its counters.
 */

export type BridgeState =
  | "opening"
  | "established"
  | "bridging"
  | "reattach-open-sent"
  | "reattach-open-confirm"
  | "closed";

export const TRANSITIONS: Readonly<Record<BridgeState, readonly BridgeState[]>> = {
  opening: ["established", "closed"],
  established: ["bridging", "closed"],
  bridging: ["reattach-open-sent", "closed"],
  "reattach-open-sent": ["reattach-open-confirm", "bridging", "closed"],
  "reattach-open-confirm": ["established", "bridging", "closed"],
  closed: [],
};

export type BridgeAction =
  | { readonly kind: "toRouter"; readonly bytes: Uint8Array }
  | { readonly kind: "toFarEnd"; readonly bytes: Uint8Array }
  | { readonly kind: "closeRouter"; readonly reason: string }
  | { readonly kind: "closeFarEnd"; readonly reason: string }
  /** Something worth a log line that is not a change of state. */
  | { readonly kind: "note"; readonly reason: string }
  | {
      readonly kind: "state";
      readonly from: BridgeState;
      readonly to: BridgeState;
      readonly reason: string;
    };

export interface BridgeOptions {
  /** How long the router's session may be bridged before it is closed. */
  readonly giveUpMs: number;
  /** How long a new far end may take from our OPEN to its KEEPALIVE. */
  readonly handshakeMs: number;
}

export const DEFAULT_BRIDGE_OPTIONS: BridgeOptions = { giveUpMs: 300_000, handshakeMs: 30_000 };

export interface BridgeStats {
  /** Times the far end was lost and the router's session was kept up. */
  bridged: number;
  /** Times a new far end took over. */
  resumed: number;
  routeRefreshesSent: number;
  keepalivesSent: number;
  routerUpdatesDropped: number;
  /** Every router octet not passed on while bridging. */
  routerBytesDropped: number;
  /** Times a silent far end was covered with KEEPALIVEs to the router (stall-cover.ts). */
  stallsCovered: number;
}

/** A bridge's state and counters, for status pages and metrics. */
export type BridgeSnapshot = { readonly state: BridgeState } & Readonly<BridgeStats>;

/** True in the states where the router's session is kept up without a far end. */
export function isBridgingState(state: BridgeState): boolean {
  return (
    state === "bridging" || state === "reattach-open-sent" || state === "reattach-open-confirm"
  );
}
