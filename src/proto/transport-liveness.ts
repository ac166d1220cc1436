/**
 * How long the gRPC transport between agent and gateway survives silence (HTTP/2
 * keepalive pings unanswered). A BGP session relayed over it survives a WAN blip
 * shorter than its hold time: the transport must not give up sooner, or a 15 s blip
 * drops every router although their sessions would have lived through it. So the ping
 * timeout is at least the longest common default hold time (BIRD's 240 s; FRR and Cisco
 * use 180 s, Junos 90 s), or a longer hold time when one is known. Pings still go out
 * every 20 s: they keep NAT and firewall state alive; only giving up waits.
 *
 * Dead links are still found quickly where it matters: the agent's Control stream has
 * its own application heartbeat (--heartbeat-timeout) and redials on its own.
 */
export const DEFAULT_HOLD_TIME_S = 240;
/** Pings this often, whatever the timeout. */
export const KEEPALIVE_PING_MS = 20_000;
/** Even a huge hold time (up to 65535 s) does not keep a dead link for more than this. */
const MAX_TIMEOUT_MS = 3_600_000;

export interface TransportKeepalive {
  readonly timeMs: number;
  readonly timeoutMs: number;
}

/** The keepalive for sessions whose hold time is `holdTimeS` (seconds; 0 = none). */
export function transportKeepalive(holdTimeS = DEFAULT_HOLD_TIME_S): TransportKeepalive {
  const holdMs = Math.max(holdTimeS, DEFAULT_HOLD_TIME_S) * 1000;
  return { timeMs: KEEPALIVE_PING_MS, timeoutMs: Math.min(holdMs, MAX_TIMEOUT_MS) };
}
