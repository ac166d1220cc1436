import { describe, expect, test } from "bun:test";
import { MessageType } from "../../src/bgp/constants.ts";
import { type BgpFrame, BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeNotification } from "../../src/bgp/notification.ts";
import { BgpNotificationError } from "../../src/bgp/notification-error.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { concat, fixture, hex, toHex } from "../fixtures/bgp/hex.ts";

const MARKER = "ffffffffffffffffffffffffffffffff";

const messages = [
  fixture("open-as65001"),
  fixture("update-ipv4-as4"),
  fixture("keepalive"),
  fixture("update-ipv6-linklocal"),
  fixture("notification-cease-shutdown"),
];
const stream = concat(...messages);

function framesHex(frames: BgpFrame[]): string[] {
  return frames.map((f) => toHex(f.message));
}

function framingError(bytes: Uint8Array, framer = new BgpFramer()): BgpNotificationError {
  try {
    framer.push(bytes);
  } catch (err) {
    if (err instanceof BgpNotificationError) return err;
    throw err;
  }
  throw new Error("no error thrown");
}

describe("BgpFramer: splitting", () => {
  test("one chunk holding many messages", () => {
    const framer = new BgpFramer();
    const frames = framer.push(stream);
    expect(framesHex(frames)).toEqual(messages.map(toHex));
    expect(frames.map((f) => f.type)).toEqual([1, 2, 4, 2, 3]);
    expect(framer.buffered).toBe(0);
  });

  test("frame body is the message after the 19-octet header", () => {
    const [frame] = new BgpFramer().push(fixture("update-ipv4-as4"));
    expect(frame?.body.length).toBe(53 - 19);
    expect(frame?.body[0]).toBe(0);
    expect(frame?.body[3]).toBe(0x18);
  });

  test("split into two chunks at every byte boundary", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new BgpFramer();
      const frames = [
        ...framer.push(stream.subarray(0, cut)),
        ...framer.push(stream.subarray(cut)),
      ];
      expect(framesHex(frames)).toEqual(messages.map(toHex));
      expect(framer.buffered).toBe(0);
    }
  });

  test("split into three chunks at many boundary pairs", () => {
    for (let a = 0; a < stream.length; a += 3) {
      for (let b = a; b <= stream.length; b += 7) {
        const framer = new BgpFramer();
        const frames = [
          ...framer.push(stream.subarray(0, a)),
          ...framer.push(stream.subarray(a, b)),
          ...framer.push(stream.subarray(b)),
        ];
        expect(frames.length).toBe(messages.length);
      }
    }
  });

  test("one byte at a time", () => {
    const framer = new BgpFramer();
    const frames: BgpFrame[] = [];
    for (let i = 0; i < stream.length; i++) {
      frames.push(...framer.push(stream.subarray(i, i + 1)));
      const done = frames.reduce((n, f) => n + f.message.length, 0);
      expect(framer.buffered).toBe(i + 1 - done);
    }
    expect(framesHex(frames)).toEqual(messages.map(toHex));
  });

  test("buffered counts a partial message", () => {
    const framer = new BgpFramer();
    expect(framer.push(stream.subarray(0, 60))).toHaveLength(1);
    expect(framer.buffered).toBe(60 - 51);
  });

  test("empty chunks are harmless", () => {
    const framer = new BgpFramer();
    expect(framer.push(new Uint8Array(0))).toEqual([]);
    expect(framer.push(fixture("keepalive"))).toHaveLength(1);
    expect(framer.push(new Uint8Array(0))).toEqual([]);
  });

  test("a message inside one chunk is a view, a straddling one is copied", () => {
    const ka = encodeKeepalive();
    const framer = new BgpFramer();
    const [inside] = framer.push(ka);
    expect(inside?.message.buffer).toBe(ka.buffer);
    framer.push(ka.subarray(0, 10));
    const [straddling] = framer.push(ka.subarray(10));
    expect(straddling?.message.buffer).not.toBe(ka.buffer);
    expect(toHex(straddling?.message ?? new Uint8Array())).toBe(toHex(ka));
  });

  test("thousands of messages in small chunks", () => {
    const update = encodeUpdate({
      origin: 0,
      asPath: [65001],
      nextHop: "192.0.2.1",
      nlri: ["10.0.0.0/8"],
    });
    const big = concat(
      ...Array.from({ length: 3000 }, (_, i) => (i % 2 ? update : encodeKeepalive())),
    );
    const framer = new BgpFramer();
    let count = 0;
    for (let i = 0; i < big.length; i += 13) count += framer.push(big.subarray(i, i + 13)).length;
    expect(count).toBe(3000);
    expect(framer.buffered).toBe(0);
  });
});

describe("BgpFramer: header errors (RFC 4271 §6.1)", () => {
  test("bad marker → 1/1 Connection Not Synchronized", () => {
    const bad = fixture("keepalive");
    bad[5] = 0xfe;
    const err = framingError(bad);
    expect([err.code, err.subcode, err.data.length]).toEqual([1, 1, 0]);
    expect(err.kind).toBe("protocol");
    expect(err.retryable).toBe(false);
  });

  test("length 18 → 1/2 Bad Message Length with the length", () => {
    const err = framingError(hex(`${MARKER} 0012 04`));
    expect([err.code, err.subcode, toHex(err.data)]).toEqual([1, 2, "0012"]);
  });

  test("length 0 → 1/2", () => {
    const err = framingError(hex(`${MARKER} 0000 04`));
    expect([err.code, err.subcode, toHex(err.data)]).toEqual([1, 2, "0000"]);
  });

  test("length 4097 → 1/2, detected before the body arrives", () => {
    const err = framingError(hex(`${MARKER} 1001 02`));
    expect([err.code, err.subcode, toHex(err.data)]).toEqual([1, 2, "1001"]);
  });

  test("unknown type → 1/3 Bad Message Type with the type", () => {
    for (const type of [0, 6, 255]) {
      const err = framingError(concat(hex(`${MARKER} 0013`), Uint8Array.of(type)));
      expect([err.code, err.subcode, toHex(err.data)]).toEqual([
        1,
        3,
        type.toString(16).padStart(2, "0"),
      ]);
    }
  });

  test("per-type minimum lengths → 1/2", () => {
    const cases: [string, string][] = [
      ["001c 01", "001c"], // OPEN 28 < 29
      ["0016 02", "0016"], // UPDATE 22 < 23
      ["0014 03", "0014"], // NOTIFICATION 20 < 21
      ["0016 05", "0016"], // ROUTE-REFRESH 22 < 23
    ];
    for (const [header, data] of cases) {
      const err = framingError(hex(`${MARKER} ${header}`));
      expect([err.code, err.subcode, toHex(err.data)]).toEqual([1, 2, data]);
    }
  });

  test("KEEPALIVE must be exactly 19 → 1/2", () => {
    const err = framingError(hex(`${MARKER} 0014 04 00`));
    expect([err.code, err.subcode, toHex(err.data)]).toEqual([1, 2, "0014"]);
  });

  test("smallest valid messages of each type pass", () => {
    const framer = new BgpFramer();
    const frames = framer.push(
      concat(
        hex(`${MARKER} 0017 02 0000 0000`),
        hex(`${MARKER} 0015 03 0600`),
        hex(`${MARKER} 0017 05 0001 00 01`),
      ),
    );
    expect(frames.map((f) => f.type)).toEqual([
      MessageType.UPDATE,
      MessageType.NOTIFICATION,
      MessageType.ROUTE_REFRESH,
    ]);
  });

  test("errors are sticky", () => {
    const framer = new BgpFramer();
    const first = framingError(hex(`${MARKER} 0012 04`), framer);
    expect(framer.error).toBe(first);
    expect(() => framer.push(encodeKeepalive())).toThrow(first);
  });

  test("whole messages before a bad header are returned first", () => {
    const framer = new BgpFramer();
    const frames = framer.push(
      concat(encodeKeepalive(), encodeKeepalive(), hex(`${MARKER} 0012 04`)),
    );
    expect(frames).toHaveLength(2);
    expect(framer.error?.subcode).toBe(2);
    expect(() => framer.push(new Uint8Array(0))).toThrow(BgpNotificationError);
  });

  test("maxMessageLength raises the limit for UPDATE but not for OPEN", () => {
    const framer = new BgpFramer({ maxMessageLength: 65535 });
    const body = new Uint8Array(5000 - 19);
    const long = concat(hex(`${MARKER} 1388 02`), body);
    expect(framer.push(long)).toHaveLength(1);
    const err = framingError(concat(hex(`${MARKER} 1388 01`), body), framer);
    expect([err.code, err.subcode, toHex(err.data)]).toEqual([1, 2, "1388"]);
    expect(framingError(long).subcode).toBe(2); // default limit 4096
  });

  test("a NOTIFICATION can be framed then decoded", () => {
    const framer = new BgpFramer();
    const [f] = framer.push(encodeNotification({ code: 6, subcode: 4 }));
    expect(f?.type).toBe(MessageType.NOTIFICATION);
    expect(Array.from(f?.body ?? [])).toEqual([6, 4]);
  });
});
