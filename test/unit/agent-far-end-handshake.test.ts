/**
 * A new far end's handshake while the bridge re-attaches (src/agent/bridge/far-end-handshake.ts):
 * what each message means, for each phase, as a value.
 */
import { describe, expect, test } from "bun:test";
import { sessionTerms } from "../../src/agent/bridge/far-end-check.ts";
import {
  type HandshakeSession,
  handshakeMessage,
} from "../../src/agent/bridge/far-end-handshake.ts";
import { MessageType } from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { decodeOpen } from "../../src/bgp/open.ts";
import {
  CEASE_OTHER_CONFIG_CHANGE,
  FSM_UNEXPECTED_IN_OPENSENT,
  farOpen,
  HOLD_TIMER_EXPIRED,
  hex,
  IPV4_EOR,
  IPV6_EOR,
  KEEPALIVE,
  RR_IPV4_UNICAST,
  RR_IPV6_UNICAST,
  routerOpen,
} from "../support/bgp-bridge-fixtures.ts";

const decoded = (bytes: Uint8Array) => decodeOpen(bytes.subarray(19));
const session: HandshakeSession = {
  routerOpen: decoded(routerOpen()),
  terms: sessionTerms(decoded(routerOpen()), decoded(farOpen())),
};
const bytes = (hexText: string) => Buffer.from(hexText, "hex");

describe("handshakeMessage", () => {
  test("a matching OPEN in OpenSent: our KEEPALIVE", () => {
    const o = handshakeMessage("open-sent", MessageType.OPEN, farOpen(), session);
    expect(o.kind).toBe("open-matches");
    if (o.kind === "open-matches") {
      expect(hex(o.toFarEnd)).toBe(KEEPALIVE);
      expect(o.open.asn).toBe(64512);
    }
  });

  test("an OPEN of another AS: a Cease for both ends", () => {
    const o = handshakeMessage("open-sent", MessageType.OPEN, farOpen({ asn: 64999 }), session);
    expect(o.kind).toBe("mismatch");
    if (o.kind === "mismatch") expect(hex(o.cease)).toBe(CEASE_OTHER_CONFIG_CHANGE);
  });

  test("a NOTIFICATION in either phase is passed to the router", () => {
    for (const phase of ["open-sent", "open-confirm"] as const) {
      const n = bytes(HOLD_TIMER_EXPIRED);
      const o = handshakeMessage(phase, MessageType.NOTIFICATION, n, session);
      expect(o).toMatchObject({ kind: "refused", toRouter: n });
    }
  });

  test("a KEEPALIVE in OpenConfirm: End-of-RIB to the far end, ROUTE-REFRESH to the router", () => {
    const o = handshakeMessage("open-confirm", MessageType.KEEPALIVE, encodeKeepalive(), session);
    expect(o.kind).toBe("took-over");
    if (o.kind === "took-over") {
      expect(o.toFarEnd.map(hex)).toEqual([IPV4_EOR, IPV6_EOR]);
      expect(o.toRouter.map(hex)).toEqual([RR_IPV4_UNICAST, RR_IPV6_UNICAST]);
    }
  });

  test("anything else drops the far end with an FSM error for its phase", () => {
    const o = handshakeMessage("open-sent", MessageType.KEEPALIVE, encodeKeepalive(), session);
    expect(o.kind).toBe("drop");
    if (o.kind === "drop")
      expect(hex(o.toFarEnd ?? new Uint8Array())).toBe(FSM_UNEXPECTED_IN_OPENSENT);
  });

  test("an unreadable OPEN drops the far end", () => {
    const broken = Buffer.from(farOpen());
    broken[19] = 3; // BGP version 3
    const o = handshakeMessage("open-sent", MessageType.OPEN, broken, session);
    expect(o).toMatchObject({ kind: "drop", reason: "the new far end's OPEN is unreadable" });
  });
});
