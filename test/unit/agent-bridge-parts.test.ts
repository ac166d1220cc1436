import { describe, expect, test } from "bun:test";
import { farEndMismatches, sessionTerms } from "../../src/agent/bridge/far-end-check.ts";
import { MessageCursor } from "../../src/agent/bridge/message-cursor.ts";
import { Afi, MessageType, Safi } from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { decodeOpen, encodeOpen, type OpenSpec } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";

function walk(cursor: MessageCursor, chunks: Uint8Array[]) {
  const seen: { type: number; chunk: number; end: number; message?: string }[] = [];
  chunks.forEach((c, i) => {
    cursor.push(c, (type, end, message) =>
      seen.push({
        type,
        chunk: i,
        end,
        ...(message ? { message: Buffer.from(message).toString("hex") } : {}),
      }),
    );
  });
  return seen;
}

describe("MessageCursor", () => {
  const open = encodeOpen({ asn: 65001, holdTime: 90, routerId: "10.0.0.1" });
  const update = encodeUpdate({
    origin: 0,
    asPath: [1],
    nextHop: "10.0.0.1",
    nlri: ["10.1.0.0/16"],
  });
  const ka = encodeKeepalive();
  const stream = new Uint8Array([...open, ...update, ...ka]);

  test("finds every boundary, keeps every message but UPDATE, in one chunk", () => {
    const seen = walk(new MessageCursor(), [stream]);
    expect(seen).toEqual([
      {
        type: MessageType.OPEN,
        chunk: 0,
        end: open.length,
        message: Buffer.from(open).toString("hex"),
      },
      { type: MessageType.UPDATE, chunk: 0, end: open.length + update.length },
      {
        type: MessageType.KEEPALIVE,
        chunk: 0,
        end: stream.length,
        message: Buffer.from(ka).toString("hex"),
      },
    ]);
  });

  test("the same messages whatever the chunking (every split point, and byte by byte)", () => {
    const whole = walk(new MessageCursor(), [stream]).map((s) => [s.type, s.message]);
    for (let cut = 1; cut < stream.length; cut++) {
      const c = new MessageCursor();
      const seen = walk(c, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(seen.map((s) => [s.type, s.message])).toEqual(whole);
      expect(c.midMessage).toBe(false);
    }
    const bytes = [...stream].map((b) => Uint8Array.of(b));
    expect(walk(new MessageCursor(), bytes).map((s) => [s.type, s.message])).toEqual(whole);
  });

  test("midMessage inside a header or a body; a bad length fails it for good", () => {
    const c = new MessageCursor();
    c.push(ka.subarray(0, 5), () => {});
    expect(c.midMessage).toBe(true);
    c.push(ka.subarray(5), () => {});
    c.push(update.subarray(0, 25), () => {});
    expect(c.midMessage).toBe(true);
    const bad = new MessageCursor();
    const short = ka.slice();
    short[17] = 18;
    bad.push(short, () => {});
    expect(bad.failed).toBe(true);
    const big = new MessageCursor(4096);
    const long = ka.slice();
    long[16] = 0x10;
    long[17] = 0x01;
    big.push(long, () => {});
    expect(big.failed).toBe(true);
  });
});

const V4 = { afi: Afi.IPV4, safi: Safi.UNICAST };
const V6 = { afi: Afi.IPV6, safi: Safi.UNICAST };
const open = (spec: Partial<OpenSpec>) =>
  decodeOpen(encodeOpen({ asn: 64512, holdTime: 90, routerId: "192.0.2.1", ...spec }).subarray(19));

describe("far-end check", () => {
  const router = open({
    asn: 65001,
    routerId: "10.0.0.1",
    capabilities: {
      multiprotocol: [V4, V6],
      routeRefresh: true,
      addPath: [{ ...V4, sendReceive: 3 }],
    },
  });
  const far = open({
    capabilities: { multiprotocol: [V4, V6], addPath: [{ ...V4, sendReceive: 1 }] },
  });
  const before = sessionTerms(router, far);

  test("the terms of a session: families, hold time, capabilities in force", () => {
    expect(before).toEqual({
      peerAsn: 64512,
      holdTime: 90,
      fourOctetAs: true,
      families: [V4, V6],
      addPath: ["1/1:router>far"],
      extendedMessage: false,
      routeRefresh: false,
      enhancedRouteRefresh: false,
    });
    const plain = sessionTerms(open({ capabilities: {} }), open({ capabilities: {} }));
    expect(plain.families).toEqual([V4]);
  });

  test("the same far end matches; each difference is named", () => {
    expect(farEndMismatches(before, sessionTerms(router, far))).toEqual([]);
    const mismatch = (spec: Partial<OpenSpec>) =>
      farEndMismatches(before, sessionTerms(router, open(spec)));
    const caps = { multiprotocol: [V4, V6], addPath: [{ ...V4, sendReceive: 1 }] };
    expect(mismatch({ asn: 64513, capabilities: caps })).toEqual(["AS 64513, not 64512"]);
    expect(mismatch({ holdTime: 30, capabilities: caps })).toEqual(["hold time 30 s, not 90 s"]);
    expect(mismatch({ capabilities: { ...caps, multiprotocol: [V4] } })).toEqual([
      "no AFI 2 SAFI 1",
    ]);
    expect(mismatch({ capabilities: { ...caps, fourOctetAs: false } })).toEqual([
      "4-octet AS lost",
    ]);
    expect(mismatch({ capabilities: { ...caps, addPath: [] } })).toEqual([
      "ADD-PATH none, not 1/1:router>far",
    ]);
    expect(mismatch({ capabilities: { ...caps, extendedMessage: true } })).toEqual([]);
    // Route refresh gained is harmless (the router never relied on it).
    expect(mismatch({ capabilities: { ...caps, routeRefresh: true } })).toEqual([]);
  });
});
