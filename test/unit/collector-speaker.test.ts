import { describe, expect, test } from "bun:test";
import { AS_TRANS, MessageType } from "../../src/bgp/constants.ts";
import { type BgpFrame, BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import {
  decodeNotification,
  encodeNotification,
  shutdownCommunication,
} from "../../src/bgp/notification.ts";
import { decodeOpen, encodeOpen, type OpenSpec } from "../../src/bgp/open.ts";
import { encodeRouteRefresh } from "../../src/bgp/route-refresh.ts";
import {
  encodeAnnouncements,
  encodeEndOfRib,
  encodeUpdate,
  type UpdateSpec,
} from "../../src/bgp/update-encoder.ts";
import {
  BgpSpeaker,
  type BgpSpeakerOptions,
  type SpeakerCloseReason,
} from "../../src/collector/bgp-speaker.ts";
import type { SpeakerState } from "../../src/collector/speaker-state.ts";
import type { Clock, TimerHandle } from "../../src/core/clock.ts";
import { ConfigError } from "../../src/core/errors.ts";
import type { LogFields, Logger } from "../../src/core/logger.ts";
import { concat, hex, prng, toHex } from "../fixtures/bgp/hex.ts";

/** A clock that moves only when told; timers run in time order. */
class ManualClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + ms, seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }

  /** Live timers. */
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => x.live);
      const next = this.timers
        .filter((x) => x.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      next.live = false;
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

/** A logger that keeps lines. */
function captureLogger(lines: { level: string; msg: string; fields?: LogFields }[]): Logger {
  const make = (): Logger => ({
    error: (msg, fields) => void lines.push({ level: "error", msg, fields }),
    warn: (msg, fields) => void lines.push({ level: "warn", msg, fields }),
    info: (msg, fields) => void lines.push({ level: "info", msg, fields }),
    debug: (msg, fields) => void lines.push({ level: "debug", msg, fields }),
    trace: (msg, fields) => void lines.push({ level: "trace", msg, fields }),
    child: () => make(),
  });
  return make();
}

const LOCAL_ASN = 64512;
const LOCAL_ID = "192.0.2.254";

const peerOpen = (o: Partial<OpenSpec> = {}): Uint8Array =>
  encodeOpen({
    asn: 65001,
    holdTime: 90,
    routerId: "192.0.2.1",
    capabilities: {
      multiprotocol: [
        { afi: 1, safi: 1 },
        { afi: 2, safi: 1 },
      ],
      routeRefresh: true,
    },
    ...o,
  });

function setup(o: Partial<BgpSpeakerOptions> = {}) {
  const clock = new ManualClock();
  const logs: { level: string; msg: string; fields?: LogFields }[] = [];
  const out = new BgpFramer();
  const sent: BgpFrame[] = [];
  const states: string[] = [];
  const closes: SpeakerCloseReason[] = [];
  const eor: string[] = [];
  const speaker = new BgpSpeaker({
    localAsn: LOCAL_ASN,
    routerId: LOCAL_ID,
    clock,
    logger: captureLogger(logs),
    onSend: (bytes) => sent.push(...out.push(bytes.slice())),
    onClose: (r) => closes.push(r),
    onStateChange: (from, to) => states.push(`${from} -> ${to}`),
    onEndOfRib: (f) => eor.push(f),
    ...o,
  });
  const sentTypes = () => sent.map((f) => f.type);
  const lastNotification = () => {
    const f = sent.filter((x) => x.type === MessageType.NOTIFICATION).at(-1);
    return f && decodeNotification(f.body);
  };
  const establish = (open = peerOpen()) => {
    speaker.receive(open);
    speaker.receive(encodeKeepalive());
    expect(speaker.state).toBe("Established");
  };
  return {
    clock,
    logs,
    sent,
    states,
    closes,
    eor,
    speaker,
    sentTypes,
    lastNotification,
    establish,
  };
}

const announce = (nlri: string[], extra: Partial<UpdateSpec> = {}) =>
  encodeUpdate({ origin: 0, asPath: [65001], nextHop: "192.0.2.1", nlri, ...extra });
const announce6 = (nlri: string[]) =>
  encodeUpdate({
    origin: 0,
    asPath: [65001],
    mpReach: { nextHop: ["2001:db8::1", "fe80::1"], nlri },
  });

describe("BgpSpeaker: session setup", () => {
  test("starts Active, answers OPEN with OPEN + KEEPALIVE, reaches Established on KEEPALIVE", () => {
    const s = setup();
    expect(s.speaker.state).toBe("Active");
    expect(s.sent).toEqual([]);
    s.speaker.receive(peerOpen());
    expect(s.sentTypes()).toEqual([MessageType.OPEN, MessageType.KEEPALIVE]);
    expect(s.speaker.state).toBe("OpenConfirm");
    s.clock.advance(1234);
    s.speaker.receive(encodeKeepalive());
    expect(s.speaker.state).toBe("Established");
    expect(s.states).toEqual([
      "Idle -> Active",
      "Active -> OpenSent",
      "OpenSent -> OpenConfirm",
      "OpenConfirm -> Established",
    ]);
    const st = s.speaker.stats();
    expect(st.establishedAt).toBe(s.clock.now());
    expect(st.peerAsn).toBe(65001);
    expect(st.peerRouterId).toBe("192.0.2.1");
    expect(st.holdTime).toBe(90);
    expect(st.messagesIn).toMatchObject({ open: 1, keepalive: 1, total: 2 });
    expect(st.messagesOut).toMatchObject({ open: 1, keepalive: 1, total: 2 });
    expect(s.closes).toEqual([]);
  });

  test("logs each transition as OLD -> NEW at debug", () => {
    const s = setup();
    s.establish();
    const debug = s.logs.filter((l) => l.level === "debug").map((l) => l.msg);
    expect(debug).toEqual([
      "Idle -> Active",
      "Active -> OpenSent",
      "OpenSent -> OpenConfirm",
      "OpenConfirm -> Established",
    ]);
  });

  test("its OPEN: version 4, ASN, hold time, router ID, MP IPv4+IPv6, 4-octet AS, route refresh", () => {
    const s = setup({ holdTime: 120 });
    s.speaker.receive(peerOpen());
    const open = decodeOpen(s.sent[0]?.body ?? new Uint8Array());
    expect(open).toMatchObject({
      version: 4,
      myAs: LOCAL_ASN,
      asn: LOCAL_ASN,
      holdTime: 120,
      routerId: LOCAL_ID,
    });
    expect(open.capabilities).toMatchObject({
      multiprotocol: [
        { afi: 1, safi: 1 },
        { afi: 2, safi: 1 },
      ],
      fourOctetAs: LOCAL_ASN,
      routeRefresh: true,
      extendedMessage: false,
      addPath: [],
    });
    expect(s.speaker.stats().holdTime).toBe(90); // min(120, peer's 90)
  });

  test("a 4-octet local ASN goes out as AS_TRANS plus the capability", () => {
    const s = setup({ localAsn: 4200000001 });
    s.speaker.receive(peerOpen());
    const open = decodeOpen(s.sent[0]?.body ?? new Uint8Array());
    expect(open.myAs).toBe(AS_TRANS);
    expect(open.asn).toBe(4200000001);
  });

  test("accepts a 4-octet peer ASN and the expected peerAsn", () => {
    const s = setup({ peerAsn: 4200000000 });
    s.establish(peerOpen({ asn: 4200000000 }));
    expect(s.speaker.stats().peerAsn).toBe(4200000000);
  });

  test("OPEN split byte by byte works", () => {
    const s = setup();
    const bytes = concat(peerOpen(), encodeKeepalive());
    for (let i = 0; i < bytes.length; i++) s.speaker.receive(bytes.subarray(i, i + 1));
    expect(s.speaker.state).toBe("Established");
  });

  test("invalid configuration is refused at construction", () => {
    const base = { localAsn: 1, routerId: "1.1.1.1", clock: new ManualClock(), onSend: () => {} };
    expect(() => new BgpSpeaker({ ...base, holdTime: 2 })).toThrow(ConfigError);
    expect(() => new BgpSpeaker({ ...base, localAsn: 0 })).toThrow(ConfigError);
    expect(() => new BgpSpeaker({ ...base, peerAsn: 2 ** 32 })).toThrow(ConfigError);
    expect(() => new BgpSpeaker({ ...base, routerId: "0.0.0.0" })).toThrow(ConfigError);
    expect(() => new BgpSpeaker({ ...base, routerId: "nope" })).toThrow(ConfigError);
    expect(() => new BgpSpeaker({ ...base, maxPrefixes: -1 })).toThrow(ConfigError);
  });
});

/** The peer's OPEN with octets overwritten from `at` (hold time at 22, identifier at 24). */
function patched(at: number, ...octets: number[]): Uint8Array {
  const b = peerOpen();
  b.set(octets, at);
  return b;
}

describe("BgpSpeaker: OPEN errors", () => {
  const cases: [string, () => Uint8Array, Partial<BgpSpeakerOptions>, number, number, string][] = [
    ["bad version → 2/1", () => peerOpen({ version: 3 }), {}, 2, 1, "0004"],
    ["hold time 1 → 2/6", () => patched(22, 0, 1), {}, 2, 6, ""],
    ["hold time 2 → 2/6", () => patched(22, 0, 2), {}, 2, 6, ""],
    ["unexpected peer AS → 2/2", () => peerOpen({ asn: 65002 }), { peerAsn: 65001 }, 2, 2, ""],
    ["BGP identifier 0.0.0.0 → 2/3", () => patched(24, 0, 0, 0, 0), {}, 2, 3, ""],
    [
      "internal peer with our identifier → 2/3",
      () => peerOpen({ asn: LOCAL_ASN, routerId: LOCAL_ID }),
      {},
      2,
      3,
      "",
    ],
    [
      "unsupported optional parameter → 2/4",
      () => hex(`${"ff".repeat(16)} 0021 01 04 fde9 005a c0000201 04 0102abcd`),
      {},
      2,
      4,
      "",
    ],
  ];
  for (const [name, open, options, code, subcode, data] of cases) {
    test(name, () => {
      const s = setup(options);
      s.speaker.receive(open());
      expect(s.sentTypes()).toEqual([MessageType.NOTIFICATION]);
      const n = s.lastNotification();
      expect([n?.code, n?.subcode, toHex(n?.data ?? new Uint8Array())]).toEqual([
        code,
        subcode,
        data,
      ]);
      expect(s.speaker.state).toBe("Idle");
      expect(s.closes).toHaveLength(1);
      expect(s.closes[0]?.kind).toBe("notification-sent");
      expect(s.closes[0]?.notification?.code).toBe(code);
      expect(s.speaker.stats().lastError).toContain("OPEN Message Error");
      expect(s.clock.pending).toBe(0);
    });
  }

  test("an external peer may use our identifier (RFC 6286)", () => {
    const s = setup();
    s.establish(peerOpen({ routerId: LOCAL_ID }));
  });

  test("no OPEN within 240 s → Hold Timer Expired", () => {
    const s = setup();
    s.clock.advance(239_999);
    expect(s.sent).toEqual([]);
    s.clock.advance(1);
    expect([s.lastNotification()?.code, s.lastNotification()?.subcode]).toEqual([4, 0]);
    expect(s.closes[0]?.message).toContain("Hold Timer Expired");
  });
});

describe("BgpSpeaker: timers", () => {
  test("hold timer expiry sends NOTIFICATION 4/0 and closes", () => {
    const s = setup();
    s.establish(peerOpen({ holdTime: 9 }));
    s.clock.advance(8_999);
    expect(s.closes).toEqual([]);
    s.clock.advance(1);
    const n = s.lastNotification();
    expect([n?.code, n?.subcode]).toEqual([4, 0]);
    expect(s.closes).toHaveLength(1);
    expect(s.closes[0]?.kind).toBe("notification-sent");
    expect(s.speaker.state).toBe("Idle");
    expect(s.clock.pending).toBe(0);
    s.clock.advance(60_000);
    expect(s.closes).toHaveLength(1);
  });

  test("messages from the peer restart the hold timer", () => {
    const s = setup();
    s.establish(peerOpen({ holdTime: 9 }));
    for (let i = 0; i < 10; i++) {
      s.clock.advance(8_000);
      s.speaker.receive(i % 2 ? encodeKeepalive() : announce([`10.${i}.0.0/16`]));
    }
    expect(s.closes).toEqual([]);
    s.clock.advance(9_000);
    expect(s.closes).toHaveLength(1);
  });

  test("the hold timer also runs in OpenConfirm", () => {
    const s = setup();
    s.speaker.receive(peerOpen({ holdTime: 3 }));
    s.clock.advance(3_000);
    expect(s.lastNotification()?.code).toBe(4);
  });

  test("keepalives every hold/3", () => {
    const s = setup();
    s.establish(peerOpen({ holdTime: 30 }));
    const keepalives = () => s.sent.filter((f) => f.type === MessageType.KEEPALIVE).length;
    expect(keepalives()).toBe(1);
    for (let i = 1; i <= 6; i++) {
      s.clock.advance(9_999);
      expect(keepalives()).toBe(i);
      s.clock.advance(1);
      expect(keepalives()).toBe(i + 1);
      s.speaker.receive(encodeKeepalive());
    }
    expect(s.speaker.stats().messagesOut.keepalive).toBe(7);
  });

  test("our hold time wins when lower: 90 → keepalive every 30 s", () => {
    const s = setup({ holdTime: 90 });
    s.establish(peerOpen({ holdTime: 240 }));
    s.clock.advance(30_000);
    expect(s.sent.filter((f) => f.type === MessageType.KEEPALIVE)).toHaveLength(2);
  });

  test("hold time 0 disables both timers", () => {
    const s = setup();
    s.establish(peerOpen({ holdTime: 0 }));
    expect(s.speaker.stats().holdTime).toBe(0);
    expect(s.clock.pending).toBe(0);
    s.clock.advance(3_600_000);
    expect(s.sentTypes()).toEqual([MessageType.OPEN, MessageType.KEEPALIVE]);
    expect(s.closes).toEqual([]);
  });

  test("close() cancels the timers and reports once", () => {
    const s = setup();
    s.establish();
    expect(s.clock.pending).toBeGreaterThan(0);
    s.speaker.close("transport closed");
    s.speaker.close("again");
    expect(s.clock.pending).toBe(0);
    expect(s.closes).toEqual([{ kind: "local", message: "transport closed" }]);
    expect(s.speaker.state).toBe("Idle");
    s.speaker.receive(announce(["10.0.0.0/8"]));
    expect(s.speaker.stats().updates).toBe(0);
  });

  test("shutdown() sends Cease/Administrative Shutdown with a message", () => {
    const s = setup();
    s.establish();
    s.speaker.shutdown("maintenance");
    const n = s.lastNotification();
    expect([n?.code, n?.subcode, n?.shutdownMessage]).toEqual([6, 2, "maintenance"]);
    expect(s.closes[0]?.kind).toBe("notification-sent");
    expect(s.clock.pending).toBe(0);
  });
});

describe("BgpSpeaker: counting routes", () => {
  test("IPv4 and IPv6 announcements and withdrawals, exactly", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(announce(["10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24"]));
    s.speaker.receive(announce(["10.0.0.0/8"])); // re-announcement
    s.speaker.receive(encodeUpdate({ withdrawn: ["192.168.0.0/16", "198.51.100.0/24"] })); // one unknown
    s.speaker.receive(announce6(["2001:db8::/32", "2001:db8:1::/48", "2001:db8:2::/48"]));
    s.speaker.receive(
      encodeUpdate({ mpUnreach: { afi: 2, withdrawn: ["2001:db8:1::/48", "2001:db8:9::/48"] } }),
    );
    s.speaker.receive(encodeEndOfRib());
    s.speaker.receive(encodeEndOfRib(2, 1));
    const st = s.speaker.stats();
    expect(st.prefixes).toEqual({ ipv4: 2, ipv6: 2 });
    expect(st.announced).toEqual({ ipv4: 4, ipv6: 3 });
    expect(st.withdrawn).toEqual({ ipv4: 2, ipv6: 2 });
    expect(st.endOfRib).toEqual({ ipv4: true, ipv6: true });
    expect(st.updates).toBe(7);
    expect(st.messagesIn.update).toBe(7);
    expect(s.eor).toEqual(["ipv4", "ipv6"]);
    expect(s.speaker.prefixes.has("10.0.0.0/8")).toBe(true);
    expect(s.speaker.prefixes.has("192.168.0.0/16")).toBe(false);
    expect(s.speaker.prefixes.has("2001:db8:2::/48")).toBe(true);
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });

  test("withdrawing everything never goes negative", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(encodeUpdate({ withdrawn: ["10.0.0.0/8", "10.0.0.0/8"] }));
    s.speaker.receive(announce(["10.0.0.0/8"]));
    s.speaker.receive(encodeUpdate({ withdrawn: ["10.0.0.0/8", "10.0.0.0/8"] }));
    expect(s.speaker.stats().prefixes.ipv4).toBe(0);
  });

  test("a large table in packed UPDATEs, fed in odd-sized chunks", () => {
    const s = setup();
    s.establish();
    const v4 = Array.from(
      { length: 20000 },
      (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`,
    );
    const v6 = Array.from({ length: 5000 }, (_, i) => `2001:db8:${i.toString(16)}::/48`);
    const stream = concat(
      ...encodeAnnouncements({ origin: 0, asPath: [65001, 65002], nextHop: "192.0.2.1" }, v4),
      ...encodeAnnouncements(
        { origin: 0, asPath: [65001], mpReach: { nextHop: "2001:db8::1", nlri: [] } },
        v6,
      ),
      encodeEndOfRib(),
      encodeEndOfRib(2, 1),
    );
    for (let i = 0; i < stream.length; i += 1500) s.speaker.receive(stream.subarray(i, i + 1500));
    expect(s.speaker.stats().prefixes).toEqual({ ipv4: 20000, ipv6: 5000 });
    expect(s.speaker.stats().endOfRib).toEqual({ ipv4: true, ipv6: true });
  });

  test("a 2-octet AS peer: its AS_PATH is read with 2-octet ASNs", () => {
    const s = setup();
    s.establish(
      peerOpen({ capabilities: { fourOctetAs: false, multiprotocol: [{ afi: 1, safi: 1 }] } }),
    );
    s.speaker.receive(announce(["10.0.0.0/8"], { fourOctetAs: false, asPath: [65001, 65002] }));
    expect(s.speaker.stats()).toMatchObject({ prefixes: { ipv4: 1 }, treatAsWithdraw: 0 });
  });

  test("RFC 7606: missing NEXT_HOP treats the routes as withdrawn, session stays", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(announce(["10.0.0.0/8", "11.0.0.0/8"]));
    s.speaker.receive(encodeUpdate({ origin: 0, asPath: [65001], nlri: ["10.0.0.0/8"] }));
    const st = s.speaker.stats();
    expect(st.state).toBe("Established");
    expect(st.treatAsWithdraw).toBe(1);
    expect(st.prefixes.ipv4).toBe(1);
    expect(st.withdrawn.ipv4).toBe(1);
    expect(st.lastError).toContain("Missing Well-known Attribute");
    expect(s.closes).toEqual([]);
  });

  test("RFC 7606: bad ATOMIC_AGGREGATE is discarded, routes kept", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(
      announce(["10.0.0.0/8"], { attributes: [{ flags: 0x40, type: 6, value: hex("01") }] }),
    );
    expect(s.speaker.stats()).toMatchObject({
      prefixes: { ipv4: 1 },
      attributesDiscarded: 1,
      treatAsWithdraw: 0,
    });
  });

  test("maxPrefixes exceeded → Cease/Maximum Number of Prefixes Reached", () => {
    const s = setup({ maxPrefixes: 2 });
    s.establish();
    s.speaker.receive(announce(["10.0.0.0/8", "11.0.0.0/8"]));
    expect(s.closes).toEqual([]);
    s.speaker.receive(announce(["12.0.0.0/8"]));
    const n = s.lastNotification();
    expect([n?.code, n?.subcode, toHex(n?.data ?? new Uint8Array())]).toEqual([
      6,
      1,
      "00010100000002",
    ]);
  });
});

describe("BgpSpeaker: errors end the session", () => {
  test("malformed UPDATE (prefix length 33) → 3/10 and close", () => {
    const s = setup();
    s.establish();
    const bad = announce(["10.0.0.0/8"]);
    bad[bad.length - 2] = 33;
    s.speaker.receive(bad);
    const n = s.lastNotification();
    expect([n?.code, n?.subcode]).toEqual([3, 10]);
    expect(s.closes[0]?.kind).toBe("notification-sent");
    expect(s.closes[0]?.message).toContain("Invalid Network Field");
  });

  test("UPDATE attribute lengths overrunning the message → 3/1", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(hex(`${"ff".repeat(16)} 0017 02 0000 0010`));
    expect([s.lastNotification()?.code, s.lastNotification()?.subcode]).toEqual([3, 1]);
  });

  test("framing error (bad marker) → 1/1", () => {
    const s = setup();
    s.establish();
    const ka = encodeKeepalive();
    ka[0] = 0;
    s.speaker.receive(ka);
    expect([s.lastNotification()?.code, s.lastNotification()?.subcode]).toEqual([1, 1]);
  });

  test("good messages before a framing error in one chunk are still processed", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(concat(announce(["10.0.0.0/8"]), hex(`${"ff".repeat(16)} 0012 04`)));
    expect(s.speaker.stats().prefixes.ipv4).toBe(1);
    const n = s.lastNotification();
    expect([n?.code, n?.subcode, toHex(n?.data ?? new Uint8Array())]).toEqual([1, 2, "0012"]);
  });

  test("unexpected messages → FSM errors (RFC 6608)", () => {
    const a = setup();
    a.speaker.receive(encodeKeepalive());
    expect([a.lastNotification()?.code, a.lastNotification()?.subcode]).toEqual([5, 0]);
    const b = setup();
    b.speaker.receive(peerOpen());
    b.speaker.receive(announce(["10.0.0.0/8"]));
    expect([b.lastNotification()?.code, b.lastNotification()?.subcode]).toEqual([5, 2]);
    const c = setup();
    c.establish();
    c.speaker.receive(peerOpen());
    expect([c.lastNotification()?.code, c.lastNotification()?.subcode]).toEqual([5, 3]);
  });

  test("ROUTE-REFRESH in Established is accepted and ignored", () => {
    const s = setup();
    s.establish();
    s.speaker.receive(encodeRouteRefresh(1, 1));
    expect(s.speaker.state).toBe("Established");
    expect(s.speaker.stats().messagesIn.routeRefresh).toBe(1);
  });

  test("peer NOTIFICATION → close with the code/subcode names, nothing sent back", () => {
    const s = setup();
    s.establish();
    const before = s.sent.length;
    s.speaker.receive(
      encodeNotification({ code: 6, subcode: 2, data: shutdownCommunication("bye") }),
    );
    expect(s.sent.length).toBe(before);
    expect(s.closes).toHaveLength(1);
    expect(s.closes[0]?.kind).toBe("notification-received");
    expect(s.closes[0]?.message).toContain("Cease/Administrative Shutdown (6/2)");
    expect(s.closes[0]?.message).toContain('"bye"');
    expect(s.speaker.stats().lastError).toContain("Cease");
    expect(s.clock.pending).toBe(0);
  });

  test("peer NOTIFICATION before OPEN also closes", () => {
    const s = setup();
    s.speaker.receive(encodeNotification({ code: 2, subcode: 2 }));
    expect(s.closes[0]?.message).toContain("Bad Peer AS");
    expect(s.sent).toEqual([]);
  });

  test("an onSend that throws ends the session without throwing out of receive", () => {
    const states: SpeakerState[] = [];
    const closes: SpeakerCloseReason[] = [];
    const speaker = new BgpSpeaker({
      localAsn: 1,
      routerId: "1.1.1.1",
      clock: new ManualClock(),
      onSend: () => {
        throw new Error("socket gone");
      },
      onClose: (r) => closes.push(r),
      onStateChange: (_f, t) => states.push(t),
    });
    expect(() => speaker.receive(peerOpen())).not.toThrow();
    expect(closes).toHaveLength(1);
    expect(closes[0]?.message).toContain("socket gone");
    expect(speaker.state).toBe("Idle");
  });

  test("random garbage never throws out of receive", () => {
    const rand = prng(1997);
    for (let i = 0; i < 300; i++) {
      const s = setup();
      if (i % 2) s.establish();
      const junk = new Uint8Array(1 + Math.floor(rand() * 200));
      for (let j = 0; j < junk.length; j++)
        junk[j] = rand() < 0.5 ? 0xff : Math.floor(rand() * 256);
      expect(() => s.speaker.receive(junk)).not.toThrow();
      expect(s.closes.length).toBeLessThanOrEqual(1);
    }
  });

  test("bit-flipped UPDATEs never throw out of receive", () => {
    const rand = prng(4271);
    const good = announce6(["2001:db8::/32"]);
    for (let i = 0; i < 500; i++) {
      const s = setup();
      s.establish();
      const b = good.slice();
      const at = 19 + Math.floor(rand() * (b.length - 19));
      b[at] = (b[at] as number) ^ (1 << Math.floor(rand() * 8));
      expect(() => s.speaker.receive(b)).not.toThrow();
    }
  });
});
