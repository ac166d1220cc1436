/**
 * A client call's request headers freed once the call no longer needs them.
 *
 * grpc-js keeps two copies of a call's metadata for the call's whole life: its ResolvingCall's
 * clone (also the RetryingCall's `initialMetadata` and the LoadBalancingCall's `metadata`) and
 * the clone the LoadBalancingCall makes for each pick (`finalMetadata`, held by the pick's
 * listener closures). A Data call carries 17-20 headers (identity, five-tuple, the gateway's
 * pairs, session id, counters, resume), so each copy's Map has outgrown JavaScriptCore's
 * 16-entry table: ~3.9 KB with its value arrays, 7-8 KB per relayed session of an idle agent
 * (DEVELOPERS.md, "Session scale"). After the headers went out they are read again only to
 * pick again (the picked subchannel failed before the stream was created) or to start another
 * attempt (a retry; the agent's channels have retries off, and with them a call never starts
 * a second attempt).
 *
 * With `installMetadataRelease()`:
 * - the pick's clone is emptied as soon as the subchannel created the HTTP/2 stream with it
 *   (a failed creation throws first, and the next pick clones again);
 * - the call's own copy is emptied when the server's response headers arrive: the stream
 *   exists and was accepted, so no pick and no attempt follows.
 * Emptying uses Metadata's public `remove`; JavaScriptCore shrinks a Map whose entries are
 * deleted (a 20-entry one from 3.9 KB to ~0.3 KB). This reaches into grpc-js internals
 * (build/src/...): if an upgrade renames them, `installMetadataRelease` returns false and the
 * copies stay, as before.
 */
import type { Metadata } from "@grpc/grpc-js";
import * as loadBalancingCall from "@grpc/grpc-js/build/src/load-balancing-call.js";
import * as subchannel from "@grpc/grpc-js/build/src/subchannel.js";

/** A call's listener, as far as it is used here. */
interface CallListener {
  onReceiveMetadata(metadata: Metadata): void;
}

/** The client's LoadBalancingCall, as far as it is used here. */
interface LoadBalancingCall {
  start(metadata: Metadata, listener: CallListener): void;
}

/** The client's Subchannel, as far as it is used here. */
interface Subchannel {
  createCall(metadata: Metadata, ...rest: unknown[]): unknown;
}

/** Remove every entry (Metadata's public API); the Map behind it shrinks. */
function emptyMetadata(metadata: Metadata): void {
  for (const key of Object.keys(metadata.getMap())) metadata.remove(key);
}

let installed: boolean | undefined;

/**
 * Free each client call's metadata copies once they are no longer read (see above).
 * Idempotent; false when grpc-js's internals are not where this expects them.
 */
export function installMetadataRelease(): boolean {
  if (installed !== undefined) return installed;
  const call = (loadBalancingCall as { LoadBalancingCall?: { prototype: unknown } })
    .LoadBalancingCall?.prototype as LoadBalancingCall | undefined;
  const channel = (subchannel as { Subchannel?: { prototype: unknown } }).Subchannel?.prototype as
    | Subchannel
    | undefined;
  if (typeof call?.start !== "function" || typeof channel?.createCall !== "function") {
    installed = false;
    return false;
  }
  const createCall = channel.createCall;
  channel.createCall = function (this: Subchannel, metadata: Metadata, ...rest: unknown[]) {
    const created = createCall.call(this, metadata, ...rest);
    emptyMetadata(metadata);
    return created;
  };
  // The listener is the caller's own object for this call (grpc-js 1.14: RetryingCall makes
  // one per attempt): only its response-headers callback is wrapped, so messages and the
  // status reach it as before, without a layer of ours on the per-message path.
  const start = call.start;
  call.start = function (this: LoadBalancingCall, metadata: Metadata, listener: CallListener) {
    const onReceiveMetadata = listener.onReceiveMetadata;
    listener.onReceiveMetadata = (received) => {
      emptyMetadata(metadata);
      onReceiveMetadata.call(listener, received);
    };
    start.call(this, metadata, listener);
  };
  installed = true;
  return true;
}
