/**
 * Golden BGP messages and helpers for the unit tests of the bridge's state machine
 * (src/agent/bridge/bgp-bridge.ts): the two OPENs, an Established session at t = 0, and
 * the bytes of its actions as hex.
 */
import { expect } from "bun:test";
import { BgpBridge } from "../../src/agent/bridge/bgp-bridge.ts";
import type { BridgeAction } from "../../src/agent/bridge/bridge-state.ts";
import { Afi, Safi } from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen, type OpenSpec } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";

export const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
export const MARKER = "ff".repeat(16);
/** Golden messages, written out octet by octet. */
export const KEEPALIVE = `${MARKER}001304`;
export const RR_IPV4_UNICAST = `${MARKER}00170500010001`;
export const RR_IPV6_UNICAST = `${MARKER}00170500020001`;
export const HOLD_TIMER_EXPIRED = `${MARKER}0015030400`;
export const CEASE_OTHER_CONFIG_CHANGE = `${MARKER}0015030606`;
export const FSM_UNEXPECTED_IN_ESTABLISHED = `${MARKER}0015030503`;
export const FSM_UNEXPECTED_IN_OPENSENT = `${MARKER}0015030501`;
export const FSM_UNEXPECTED_IN_OPENCONFIRM = `${MARKER}0015030502`;
export const IPV4_EOR = `${MARKER}00170200000000`;
export const IPV6_EOR = `${MARKER}001d0200000006800f03000201`;

/** Cease / Administrative Reset with the communication "bgproxy: no far end for N s". */
export function gaveUpGolden(seconds: number): string {
  const text = Buffer.from(`bgproxy: no far end for ${seconds} s`).toString("hex");
  const body = `0604${(text.length / 2).toString(16).padStart(2, "0")}${text}`;
  return `${MARKER}${(19 + body.length / 2).toString(16).padStart(4, "0")}03${body}`;
}

export const BOTH_FAMILIES = [
  { afi: Afi.IPV4, safi: Safi.UNICAST },
  { afi: Afi.IPV6, safi: Safi.UNICAST },
];

/** An OPEN with hold time 90 and both families, `more` overriding. */
function open(asn: number, routerId: string, rr: boolean, more: Partial<OpenSpec>): Uint8Array {
  return encodeOpen({
    asn,
    holdTime: 90,
    routerId,
    capabilities: { multiprotocol: BOTH_FAMILIES, routeRefresh: rr },
    ...more,
  });
}

export function routerOpen(more: Partial<OpenSpec> = {}, rr = true): Uint8Array {
  return open(65001, "10.0.0.1", rr, more);
}

export function farOpen(more: Partial<OpenSpec> = {}): Uint8Array {
  return open(64512, "192.0.2.1", true, more);
}

export const update = () =>
  encodeUpdate({ origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri: ["198.51.100.0/24"] });

/** Bytes of the actions of one kind, hex. */
export function sent(actions: readonly BridgeAction[], kind: "toRouter" | "toFarEnd"): string[] {
  return actions.flatMap((a) => (a.kind === kind ? [hex(a.bytes)] : []));
}

export function closes(actions: readonly BridgeAction[]): string[] {
  return actions.flatMap((a) =>
    a.kind === "closeRouter" || a.kind === "closeFarEnd" ? [a.kind] : [],
  );
}

/** An Established session seen through the bridge (t = 0). */
export function established(router = routerOpen(), far = farOpen()): BgpBridge {
  const b = new BgpBridge({ giveUpMs: 300_000, handshakeMs: 30_000 });
  b.fromRouter(router, 0);
  b.fromFarEnd(far, 0);
  b.fromFarEnd(encodeKeepalive(), 0);
  expect(b.state).toBe("opening");
  b.fromRouter(encodeKeepalive(), 0);
  expect(b.state).toBe("established");
  return b;
}
