/**
 * Wire compatibility of the hand-written ProxyService codec with a generic protobuf runtime
 * (protobufjs, built from proto/proxy.proto), both directions, plus malformed input.
 */

import { describe, expect, test } from "bun:test";
import path from "node:path";
import protobuf from "protobufjs";
import { BgpProxyError } from "../../src/core/errors.ts";
import {
  decodeControlRequest,
  decodeControlResponse,
  decodeDataMessage,
  encodeControlRequest,
  encodeControlResponse,
  encodeDataMessage,
} from "../../src/proto/codec.ts";
import {
  ControlAction,
  type ControlRequest,
  type ControlResponse,
  DataAction,
  type DataMessage,
} from "../../src/proto/messages.ts";
import {
  ProtoDecodeError,
  ProtoEncodeError,
  ProtoReader,
  ProtoWriter,
  varintSize,
} from "../../src/proto/wire.ts";
import { prng } from "../support/prng.ts";

const root = protobuf.loadSync(path.join(import.meta.dir, "../../proto/proxy.proto"));
const pkg = "kentik.ktbgp.v202203beta2";
const PbControlRequest = root.lookupType(`${pkg}.ControlRequest`);
const PbControlResponse = root.lookupType(`${pkg}.ControlResponse`);
const PbKeyVal = root.lookupType(`${pkg}.KeyVal`);
const PbDataRequest = root.lookupType(`${pkg}.DataRequest`);
const PbDataResponse = root.lookupType(`${pkg}.DataResponse`);

function randomBytes(rand: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** Comparable form: bytes become hex strings, whatever class holds them. */
function norm(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return `hex:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
  }
  if (Array.isArray(value)) return value.map(norm);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]));
  }
  return value;
}

/**
 * A protobufjs input object without proto3 defaults (protobufjs writes any field that is
 * present, even when it holds the default), so that it encodes canonically.
 */
function withoutDefaults(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === 0 || v === "" || (v instanceof Uint8Array && v.length === 0)) continue;
    const nested =
      Array.isArray(v) && v.every((e) => typeof e === "object" && !ArrayBuffer.isView(e));
    out[k] = nested ? v.map((e: object) => withoutDefaults(e)) : v;
  }
  return out;
}

function pbDecode(type: protobuf.Type, bytes: Uint8Array): unknown {
  return norm(type.toObject(type.decode(bytes), { defaults: true, arrays: true }));
}

function pbEncode(type: protobuf.Type, value: object): Uint8Array {
  return type.encode(type.create(withoutDefaults(value))).finish();
}

/** Ours → protobufjs → equal; protobufjs → ours → equal; and the bytes are identical. */
function checkWire<T extends object>(
  types: protobuf.Type[],
  encode: (msg: T) => Buffer,
  decode: (buf: Uint8Array) => T,
  value: T,
): Buffer {
  const ours = encode(value);
  for (const type of types) {
    expect(pbDecode(type, ours)).toEqual(norm(value));
    const theirs = pbEncode(type, value);
    expect(norm(decode(theirs))).toEqual(norm(value));
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
  }
  return ours;
}

const checkRequest = (v: ControlRequest) =>
  checkWire([PbControlRequest], encodeControlRequest, decodeControlRequest, v);
const checkResponse = (v: ControlResponse) =>
  checkWire([PbControlResponse], encodeControlResponse, decodeControlResponse, v);
const checkData = (v: DataMessage) =>
  checkWire([PbDataRequest, PbDataResponse], encodeDataMessage, decodeDataMessage, v);

const emptyRequest: ControlRequest = {
  proto: "",
  deviceIp: "",
  devicePort: 0,
  proxyIp: "",
  proxyPort: 0,
  action: ControlAction.UNSPECIFIED,
};
const fullRequest: ControlRequest = {
  proto: "BGP",
  deviceIp: "192.0.2.1",
  devicePort: 50123,
  proxyIp: "2001:db8::179",
  proxyPort: 179,
  action: ControlAction.BLOCK_IP,
};
const emptyResponse: ControlResponse = {
  ...emptyRequest,
  ttlSeconds: 0,
  ttlCounter: 0,
  metadata: [],
  companyId: 0,
  deviceId: 0,
  deviceName: "",
  tcpMd5: new Uint8Array(0),
};
const fullResponse: ControlResponse = {
  ...fullRequest,
  ttlSeconds: 300,
  ttlCounter: 10,
  action: ControlAction.KEEPALIVE,
  metadata: [
    { key: "backend-pin", val: ["gw-3"] },
    { key: "empty", val: [] },
    { key: "many", val: ["a", "", "ünïcødé ✓ 🚀"] },
    { key: "", val: ["keyless"] },
  ],
  companyId: 1234567,
  deviceId: 0xfffffffe,
  deviceName: "edge-router-1 (Zürich) 東京",
  tcpMd5: new Uint8Array([0x00, 0x01, 0xff, 0x00, 0x80, 0x7f, 0x00]),
};
const UNKNOWN_ENUM: number = 7;

describe("wire primitives", () => {
  const uints = [
    0,
    1,
    127,
    128,
    16383,
    16384,
    2 ** 21 - 1,
    2 ** 21,
    2 ** 28 - 1,
    2 ** 28,
    2 ** 32 - 1,
  ];
  const ints = [-1, -2, -300, -(2 ** 31)];

  test("varints match a generic writer and read back", () => {
    for (const v of [...uints, ...ints]) {
      const w = new ProtoWriter(varintSize(v));
      w.varint(v);
      const pb = protobuf.Writer.create();
      if (v < 0) pb.int32(v);
      else pb.uint32(v);
      expect(w.finish().toString("hex")).toBe(Buffer.from(pb.finish()).toString("hex"));
      const r = new ProtoReader(w.buf);
      expect(v < 0 ? r.readInt32() : r.readVarint()).toBe(v);
      expect(r.more()).toBe(false);
    }
  });

  test("a varint longer than 10 bytes, or one past 64 bits, is refused", () => {
    const eleven = new Uint8Array([...new Array(10).fill(0xff), 0x01]);
    expect(() => new ProtoReader(eleven).readVarint()).toThrow(/longer than 10 bytes/);
    const ten = new Uint8Array([...new Array(9).fill(0xff), 0x01]);
    expect(new ProtoReader(ten).readInt32()).toBe(-1);
    const overflow = new Uint8Array([...new Array(9).fill(0xff), 0x02]);
    expect(() => new ProtoReader(overflow).readVarint()).toThrow(ProtoDecodeError);
    const inMessage = new Uint8Array([0x08, ...eleven]);
    expect(() => decodeDataMessage(inMessage)).toThrow(ProtoDecodeError);
  });

  test("the writer checks that the size pass and the write pass agree", () => {
    const w = new ProtoWriter(3);
    w.varint(1);
    expect(() => w.finish()).toThrow(ProtoEncodeError);
  });
});

describe("ControlRequest", () => {
  test("all fields set", () => {
    checkRequest(fullRequest);
  });
  test("all defaults encode to 0 bytes", () => {
    expect(checkRequest(emptyRequest).length).toBe(0);
    expect(decodeControlRequest(new Uint8Array(0))).toEqual(emptyRequest);
  });
  test("max uint32 and unicode strings", () => {
    checkRequest({
      proto: "BGP ✓",
      deviceIp: "räuter-😀-中文",
      devicePort: 0xffffffff,
      proxyIp: "\u0000nul and \u{10ffff}",
      proxyPort: 0xffffffff,
      action: ControlAction.KEEPALIVE,
    });
  });
  test("every ControlAction, an unknown number and a negative one", () => {
    for (const action of [0, 1, 2, UNKNOWN_ENUM, -1]) checkRequest({ ...fullRequest, action });
    const decoded = decodeControlRequest(
      encodeControlRequest({ ...fullRequest, action: UNKNOWN_ENUM }),
    );
    expect(decoded.action as number).toBe(UNKNOWN_ENUM);
  });
  test("a uint32 field carrying a 64-bit varint keeps its low 32 bits", () => {
    const six = protobuf.Writer.create()
      .uint32(0x18)
      .uint64(2 ** 35 + 5)
      .finish();
    expect(decodeControlRequest(six).devicePort).toBe(5);
    // protobufjs only narrows 10-byte varints (it assumes a sign-extended int32): compare there.
    const ten = new Uint8Array([0x18, 0x85, ...new Array(8).fill(0x80), 0x01]);
    expect(decodeControlRequest(ten).devicePort).toBe(5);
    expect(pbDecode(PbControlRequest, ten)).toMatchObject({ devicePort: 5 });
  });
  test("strings keep a leading BOM; invalid UTF-8 is refused", () => {
    checkRequest({ ...fullRequest, proto: "\ufeffBGP" });
    const bad = new Uint8Array([0x0a, 0x02, 0xc3, 0x28]);
    expect(() => decodeControlRequest(bad)).toThrow(/invalid UTF-8 in field 1 at offset 1/);
  });
  test("the last occurrence of a singular field wins", () => {
    const bytes = Buffer.concat([
      encodeControlRequest(fullRequest),
      encodeControlRequest({ ...emptyRequest, proto: "later", devicePort: 1 }),
    ]);
    expect(decodeControlRequest(bytes)).toEqual({ ...fullRequest, proto: "later", devicePort: 1 });
  });
  test("values that do not fit their field are refused on encode", () => {
    for (const devicePort of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => encodeControlRequest({ ...fullRequest, devicePort })).toThrow(ProtoEncodeError);
    }
    expect(() => encodeControlRequest({ ...fullRequest, action: 2 ** 31 })).toThrow(
      ProtoEncodeError,
    );
  });
});

describe("ControlResponse and KeyVal", () => {
  test("all fields set, KeyVals with 0, 1 and 3 vals, binary tcp_md5", () => {
    checkResponse(fullResponse);
  });
  test("all defaults encode to 0 bytes", () => {
    expect(checkResponse(emptyResponse).length).toBe(0);
  });
  test("max uint32 everywhere, every ControlAction and an unknown one", () => {
    const max = 0xffffffff;
    for (const action of [0, 1, 2, UNKNOWN_ENUM]) {
      checkResponse({
        ...fullResponse,
        devicePort: max,
        proxyPort: max,
        ttlSeconds: max,
        ttlCounter: max,
        companyId: max,
        deviceId: max,
        action,
      });
    }
  });
  test("KeyVal alone matches the generic runtime", () => {
    for (const kv of fullResponse.metadata) {
      const theirs = PbKeyVal.encode(PbKeyVal.create(withoutDefaults(kv))).finish();
      const ours = encodeControlResponse({ ...emptyResponse, metadata: [kv] });
      // Ours is the KeyVal wrapped as field 9: tag, length, then the same bytes.
      expect(Buffer.from(ours.subarray(2)).equals(Buffer.from(theirs))).toBe(true);
      expect(pbDecode(PbKeyVal, ours.subarray(2))).toEqual(norm(kv));
    }
  });
  test("tcp_md5 is a copy, not a view", () => {
    const bytes = encodeControlResponse(fullResponse);
    const decoded = decodeControlResponse(bytes);
    bytes.fill(0xaa);
    expect(norm(decoded.tcpMd5)).toEqual(norm(fullResponse.tcpMd5));
  });
});

describe("DataRequest and DataResponse", () => {
  const rand = prng(1);
  const chunks = [
    randomBytes(rand, 19),
    new Uint8Array(0),
    randomBytes(rand, 70 * 1024),
    randomBytes(rand, 1),
    new Uint8Array(0),
    ...Array.from({ length: 40 }, () => randomBytes(rand, Math.floor(rand() * 4096))),
  ];

  test("many chunks incl. empty and 70 KiB ones, in order", () => {
    checkData({ action: DataAction.UNSPECIFIED, data: chunks });
    const decoded = decodeDataMessage(encodeDataMessage({ action: 0, data: chunks }));
    expect(decoded.data.map((c) => c.length)).toEqual(chunks.map((c) => c.length));
  });
  test("all defaults encode to 0 bytes; a lone empty chunk is kept", () => {
    expect(checkData({ action: DataAction.UNSPECIFIED, data: [] }).length).toBe(0);
    const one = checkData({ action: DataAction.UNSPECIFIED, data: [new Uint8Array(0)] });
    expect(one.toString("hex")).toBe("1200");
  });
  test("every DataAction and an unknown one", () => {
    for (const action of [0, 1, 2, UNKNOWN_ENUM, -5]) {
      checkData({ action, data: [] });
      checkData({ action, data: chunks.slice(0, 4) });
    }
  });
  test("only the published fields: the encoder never writes field 3, a decoder skips it", () => {
    const rand = prng(7);
    for (const action of [0, 1, 2]) {
      for (const data of [[], [new Uint8Array([7])], chunks.slice(0, 3)]) {
        const bytes = encodeDataMessage({ action, data });
        // Walk the fields: only 1 (action, varint) and 2 (data, length-delimited).
        const r = new ProtoReader(bytes);
        while (r.more()) {
          const tag = r.readTag();
          expect([0x08, 0x12]).toContain(tag);
          r.skipField(tag & 7);
        }
        // A decoder built from proto/proxy.proto (the published fields) reads it all.
        expect(pbDecode(PbDataResponse, bytes)).toEqual(norm({ action, data }));
      }
    }
    // An older bgproxy's field 3 (its acknowledgements) is an unknown field: skipped.
    const withOld = Buffer.concat([
      encodeDataMessage({ action: 0, data: [randomBytes(rand, 5)] }),
      Buffer.from("18ac02", "hex"),
    ]);
    const decoded = decodeDataMessage(withOld);
    expect(Object.keys(decoded).sort()).toEqual(["action", "data"]);
    expect(decoded.data[0]?.length).toBe(5);
  });
  test("joined chunks encode as one data field, byte for byte their concatenation's message", () => {
    for (const action of [0, 1, UNKNOWN_ENUM]) {
      for (const parts of [
        chunks,
        chunks.slice(0, 2),
        chunks.slice(1, 2),
        [],
        chunks.slice(2, 3),
      ]) {
        const whole = Buffer.concat(parts);
        const joined = encodeDataMessage({ action, data: parts, joined: true });
        // A single chunk (or none) is encoded as without `joined`.
        const expected =
          parts.length > 1
            ? encodeDataMessage({ action, data: [whole] })
            : encodeDataMessage({ action, data: parts });
        expect(Buffer.from(joined).equals(Buffer.from(expected))).toBe(true);
        const decoded = decodeDataMessage(joined);
        expect(decoded.data.length).toBe(Math.min(parts.length, 1));
        expect(Buffer.concat(decoded.data).equals(whole)).toBe(true);
        expect(pbDecode(PbDataResponse, joined)).toEqual(
          norm({ action, data: parts.length > 1 ? [whole] : parts }),
        );
      }
    }
  });
  test("chunks are zero-copy views of the input", () => {
    const bytes = encodeDataMessage({ action: 0, data: [new Uint8Array([1, 2, 3])] });
    const decoded = decodeDataMessage(bytes);
    const chunk = decoded.data[0] as Uint8Array;
    expect(chunk.buffer).toBe(bytes.buffer);
    bytes[2] = 0x99; // tag, length, then the first payload byte
    expect(chunk[0]).toBe(0x99);
  });
});

describe("unknown fields", () => {
  const unknown = protobuf.Writer.create()
    .uint32((15 << 3) | 0)
    .uint32(300)
    .uint32((16 << 3) | 2)
    .bytes(new Uint8Array([1, 2, 3]))
    .uint32((17 << 3) | 5)
    .fixed32(0xdeadbeef)
    .uint32((18 << 3) | 1)
    .fixed64(123456789)
    .uint32((536870911 << 3) | 0)
    .uint64(2 ** 40)
    .finish();
  const around = (bytes: Uint8Array) => Buffer.concat([unknown, bytes, unknown]);

  test("are skipped in every message, KeyVal included", () => {
    expect(decodeControlRequest(around(encodeControlRequest(fullRequest)))).toEqual(fullRequest);
    expect(norm(decodeControlResponse(around(encodeControlResponse(fullResponse))))).toEqual(
      norm(fullResponse),
    );
    const data = { action: DataAction.KILL, data: [new Uint8Array([7])] };
    expect(norm(decodeDataMessage(around(encodeDataMessage(data))))).toEqual(norm(data));
    const kv = PbKeyVal.encode(PbKeyVal.create({ key: "k", val: ["v"] })).finish();
    const inner = around(kv);
    const outer = protobuf.Writer.create()
      .uint32((9 << 3) | 2)
      .bytes(inner)
      .finish();
    expect(decodeControlResponse(outer).metadata).toEqual([{ key: "k", val: ["v"] }]);
  });
  test("a known field number with an unexpected wire type is skipped as unknown", () => {
    const bytes = protobuf.Writer.create()
      .uint32((1 << 3) | 0)
      .uint32(5)
      .finish();
    expect(decodeControlRequest(bytes)).toEqual(emptyRequest);
  });
  test("groups, wire types 6 and 7, and field number 0 are refused", () => {
    for (const tag of [(15 << 3) | 3, (15 << 3) | 4, (15 << 3) | 6, (15 << 3) | 7, 0, 2]) {
      const bytes = protobuf.Writer.create().uint32(tag).uint32(0).finish();
      expect(() => decodeDataMessage(bytes)).toThrow(ProtoDecodeError);
    }
  });
});

describe("truncation", () => {
  /** Offsets where a top-level field ends: cutting there leaves a valid, shorter message. */
  function fieldBoundaries(bytes: Uint8Array): Set<number> {
    const r = protobuf.Reader.create(bytes);
    const ends = new Set([0]);
    while (r.pos < r.len) {
      r.skipType(r.uint32() & 7);
      ends.add(r.pos);
    }
    return ends;
  }

  function checkEveryCut(
    type: protobuf.Type,
    decode: (buf: Uint8Array) => unknown,
    bytes: Uint8Array,
  ): void {
    const ends = fieldBoundaries(bytes);
    let failures = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      const prefix = bytes.subarray(0, cut);
      if (ends.has(cut)) {
        expect(norm(decode(prefix))).toEqual(pbDecode(type, prefix));
        continue;
      }
      try {
        decode(prefix);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtoDecodeError);
        expect(err).toBeInstanceOf(BgpProxyError);
        const e = err as ProtoDecodeError;
        expect(e.kind).toBe("protocol");
        expect(e.retryable).toBe(false);
        expect(e.message).toMatch(/at offset \d+/);
        failures++;
        continue;
      }
      throw new Error(`decoding ${cut} of ${bytes.length} bytes did not throw`);
    }
    expect(failures).toBe(bytes.length - ends.size + (ends.has(bytes.length) ? 1 : 0));
  }

  test("ControlRequest, at every byte", () => {
    checkEveryCut(
      PbControlRequest,
      decodeControlRequest,
      encodeControlRequest({ ...fullRequest, action: -1 as ControlAction }),
    );
  });
  test("ControlResponse, at every byte", () => {
    checkEveryCut(PbControlResponse, decodeControlResponse, encodeControlResponse(fullResponse));
  });
  test("DataRequest, at every byte", () => {
    const rand = prng(2);
    const data = [randomBytes(rand, 200), new Uint8Array(0), randomBytes(rand, 300)];
    checkEveryCut(PbDataRequest, decodeDataMessage, encodeDataMessage({ action: 2, data }));
  });
});
