/**
 * Hand-written protobuf codec for the ProxyService messages (proto/proxy.proto). Pure: values
 * in, bytes out, and back. proto3 rules: fields holding their default (0, "", empty bytes) are
 * not written; decoders start from the defaults; the last occurrence of a singular field wins;
 * repeated fields keep every element, empty ones included; unknown fields (and known field
 * numbers arriving with an unexpected wire type, as the Go runtime treats them) are skipped;
 * unknown enum numbers are kept as numbers. Malformed input throws ProtoDecodeError.
 */
import { FRAME_HEADER_BYTES, withFrameHeadroom } from "./frame-headroom.ts";
import type {
  ControlAction,
  ControlRequest,
  ControlResponse,
  DataAction,
  DataMessage,
  FiveTuple,
  KeyVal,
} from "./messages.ts";
import {
  checkInt32,
  checkUint32,
  lengthDelimitedSize,
  ProtoReader,
  ProtoWriter,
  tagSize,
  utf8Length,
  varintSize,
  WireType,
} from "./wire.ts";

// Tags (field << 3 | wire type) as they appear on the wire.
const TAG_PROTO = 0x0a; // 1, length-delimited
const TAG_DEVICE_IP = 0x12; // 2, length-delimited
const TAG_DEVICE_PORT = 0x18; // 3, varint
const TAG_PROXY_IP = 0x22; // 4, length-delimited
const TAG_PROXY_PORT = 0x28; // 5, varint
const TAG_TTL_SECONDS = 0x30; // 6, varint
const TAG_TTL_COUNTER = 0x38; // 7, varint
const TAG_CONTROL_ACTION = 0x40; // 8, varint
const TAG_METADATA = 0x4a; // 9, length-delimited
const TAG_COMPANY_ID = 0x50; // 10, varint
const TAG_DEVICE_ID = 0x58; // 11, varint
const TAG_DEVICE_NAME = 0x62; // 12, length-delimited
const TAG_TCP_MD5 = 0x6a; // 13, length-delimited
const TAG_KEYVAL_KEY = 0x0a; // KeyVal 1, length-delimited
const TAG_KEYVAL_VAL = 0x12; // KeyVal 2, length-delimited
const TAG_DATA_ACTION = 0x08; // DataRequest/DataResponse 1, varint
const TAG_DATA_CHUNK = 0x12; // DataRequest/DataResponse 2, length-delimited

const EMPTY_BYTES = new Uint8Array(0);

/** Size of a varint field (uint32 or int32), 0 when it holds the default. */
function varintFieldSize(field: number, value: number): number {
  return value === 0 ? 0 : tagSize(field) + varintSize(value);
}

/** Size of a string or bytes field of `length` bytes, 0 when empty. */
function bytesFieldSize(field: number, length: number): number {
  return length === 0 ? 0 : lengthDelimitedSize(field, length);
}

function writeVarintField(w: ProtoWriter, field: number, value: number): void {
  if (value === 0) return;
  w.tag(field, WireType.VARINT);
  w.varint(value);
}

function writeStringField(w: ProtoWriter, field: number, text: string, length: number): void {
  if (length !== 0) w.string(field, text, length);
}

/** UTF-8 lengths of the five-tuple's strings, measured once per encode. */
interface FiveTupleLengths {
  proto: number;
  deviceIp: number;
  proxyIp: number;
  size: number;
}

function measureFiveTuple(t: FiveTuple, name: string): FiveTupleLengths {
  checkUint32(t.devicePort, `${name}.devicePort`);
  checkUint32(t.proxyPort, `${name}.proxyPort`);
  const proto = utf8Length(t.proto);
  const deviceIp = utf8Length(t.deviceIp);
  const proxyIp = utf8Length(t.proxyIp);
  const size =
    bytesFieldSize(1, proto) +
    bytesFieldSize(2, deviceIp) +
    varintFieldSize(3, t.devicePort) +
    bytesFieldSize(4, proxyIp) +
    varintFieldSize(5, t.proxyPort);
  return { proto, deviceIp, proxyIp, size };
}

function writeFiveTuple(w: ProtoWriter, t: FiveTuple, len: FiveTupleLengths): void {
  writeStringField(w, 1, t.proto, len.proto);
  writeStringField(w, 2, t.deviceIp, len.deviceIp);
  writeVarintField(w, 3, t.devicePort);
  writeStringField(w, 4, t.proxyIp, len.proxyIp);
  writeVarintField(w, 5, t.proxyPort);
}

/** Fields 1..5 of ControlRequest and ControlResponse; false for any other tag. */
function readFiveTupleField(r: ProtoReader, tag: number, t: FiveTuple): boolean {
  switch (tag) {
    case TAG_PROTO:
      t.proto = r.readString();
      return true;
    case TAG_DEVICE_IP:
      t.deviceIp = r.readString();
      return true;
    case TAG_DEVICE_PORT:
      t.devicePort = r.readVarint();
      return true;
    case TAG_PROXY_IP:
      t.proxyIp = r.readString();
      return true;
    case TAG_PROXY_PORT:
      t.proxyPort = r.readVarint();
      return true;
    default:
      return false;
  }
}

/** Encode a ControlRequest; throws ProtoEncodeError if a number does not fit its field. */
export function encodeControlRequest(msg: ControlRequest): Buffer {
  const tuple = measureFiveTuple(msg, "ControlRequest");
  checkInt32(msg.action, "ControlRequest.action");
  const w = new ProtoWriter(tuple.size + varintFieldSize(8, msg.action));
  writeFiveTuple(w, msg, tuple);
  writeVarintField(w, 8, msg.action);
  return w.finish();
}

/** Decode a ControlRequest; throws ProtoDecodeError on malformed input. */
export function decodeControlRequest(buf: Uint8Array): ControlRequest {
  const msg: ControlRequest = {
    proto: "",
    deviceIp: "",
    devicePort: 0,
    proxyIp: "",
    proxyPort: 0,
    action: 0,
  };
  const r = new ProtoReader(buf);
  while (r.more()) {
    const tag = r.readTag();
    switch (tag) {
      case TAG_CONTROL_ACTION:
        msg.action = r.readInt32() as ControlAction;
        break;
      default:
        if (!readFiveTupleField(r, tag, msg)) r.skipField(tag & 7);
    }
  }
  return msg;
}

/** Size of the body of one KeyVal (without its own tag and length). */
function keyValBodySize(kv: KeyVal): number {
  let size = bytesFieldSize(1, utf8Length(kv.key));
  for (const val of kv.val) size += lengthDelimitedSize(2, utf8Length(val));
  return size;
}

function writeKeyVal(w: ProtoWriter, kv: KeyVal, bodySize: number): void {
  w.tag(9, WireType.LENGTH_DELIMITED);
  w.varint(bodySize);
  writeStringField(w, 1, kv.key, utf8Length(kv.key));
  for (const val of kv.val) w.string(2, val, utf8Length(val));
}

function decodeKeyVal(r: ProtoReader): KeyVal {
  const kv: KeyVal = { key: "", val: [] };
  while (r.more()) {
    const tag = r.readTag();
    if (tag === TAG_KEYVAL_KEY) kv.key = r.readString();
    else if (tag === TAG_KEYVAL_VAL) kv.val.push(r.readString());
    else r.skipField(tag & 7);
  }
  return kv;
}

/** Encode a ControlResponse; throws ProtoEncodeError if a number does not fit its field. */
export function encodeControlResponse(msg: ControlResponse): Buffer {
  const tuple = measureFiveTuple(msg, "ControlResponse");
  checkUint32(msg.ttlSeconds, "ControlResponse.ttlSeconds");
  checkUint32(msg.ttlCounter, "ControlResponse.ttlCounter");
  checkInt32(msg.action, "ControlResponse.action");
  checkUint32(msg.companyId, "ControlResponse.companyId");
  checkUint32(msg.deviceId, "ControlResponse.deviceId");
  const deviceName = utf8Length(msg.deviceName);
  const bodySizes = msg.metadata.map(keyValBodySize);
  let size =
    tuple.size +
    varintFieldSize(6, msg.ttlSeconds) +
    varintFieldSize(7, msg.ttlCounter) +
    varintFieldSize(8, msg.action) +
    varintFieldSize(10, msg.companyId) +
    varintFieldSize(11, msg.deviceId) +
    bytesFieldSize(12, deviceName) +
    bytesFieldSize(13, msg.tcpMd5.length);
  for (const body of bodySizes) size += lengthDelimitedSize(9, body);

  const w = new ProtoWriter(size);
  writeFiveTuple(w, msg, tuple);
  writeVarintField(w, 6, msg.ttlSeconds);
  writeVarintField(w, 7, msg.ttlCounter);
  writeVarintField(w, 8, msg.action);
  msg.metadata.forEach((kv, i) => {
    writeKeyVal(w, kv, bodySizes[i] ?? 0);
  });
  writeVarintField(w, 10, msg.companyId);
  writeVarintField(w, 11, msg.deviceId);
  writeStringField(w, 12, msg.deviceName, deviceName);
  if (msg.tcpMd5.length !== 0) w.bytes(13, msg.tcpMd5);
  return w.finish();
}

/**
 * Decode a ControlResponse; throws ProtoDecodeError on malformed input. `tcpMd5` is a copy,
 * so a cached response does not pin the received buffer.
 */
export function decodeControlResponse(buf: Uint8Array): ControlResponse {
  const msg: ControlResponse = {
    proto: "",
    deviceIp: "",
    devicePort: 0,
    proxyIp: "",
    proxyPort: 0,
    ttlSeconds: 0,
    ttlCounter: 0,
    action: 0,
    metadata: [],
    companyId: 0,
    deviceId: 0,
    deviceName: "",
    tcpMd5: EMPTY_BYTES,
  };
  const r = new ProtoReader(buf);
  while (r.more()) {
    const tag = r.readTag();
    switch (tag) {
      case TAG_TTL_SECONDS:
        msg.ttlSeconds = r.readVarint();
        break;
      case TAG_TTL_COUNTER:
        msg.ttlCounter = r.readVarint();
        break;
      case TAG_CONTROL_ACTION:
        msg.action = r.readInt32() as ControlAction;
        break;
      case TAG_METADATA:
        msg.metadata.push(decodeKeyVal(r.readNested()));
        break;
      case TAG_COMPANY_ID:
        msg.companyId = r.readVarint();
        break;
      case TAG_DEVICE_ID:
        msg.deviceId = r.readVarint();
        break;
      case TAG_DEVICE_NAME:
        msg.deviceName = r.readString();
        break;
      case TAG_TCP_MD5:
        msg.tcpMd5 = new Uint8Array(r.readLengthDelimited());
        break;
      default:
        if (!readFiveTupleField(r, tag, msg)) r.skipField(tag & 7);
    }
  }
  return msg;
}

/**
 * Encode a DataRequest or DataResponse (same wire shape). The relay's hot path: one size pass,
 * one allocation, one `Buffer.set` per chunk. Every chunk is written, empty ones included;
 * with `joined`, all of them as one field (their concatenation; none when there are none).
 * The allocation has room for gRPC's frame header in front (grpc-framing.ts: grpc-js then
 * sends it without copying it again).
 */
export function encodeDataMessage(msg: DataMessage): Buffer {
  const action = msg.action;
  const data = msg.data;
  checkInt32(action, "DataMessage.action");
  const joined = msg.joined === true && data.length > 1;
  let total = 0;
  let fieldHeads = 0; // a tag and a length per chunk (one for them all when joined)
  for (let i = 0; i < data.length; i++) {
    const length = (data[i] as Uint8Array).length;
    total += length;
    if (!joined) fieldHeads += 1 + varintSize(length);
  }
  if (joined) fieldHeads = 1 + varintSize(total);
  const w = new ProtoWriter(varintFieldSize(1, action) + fieldHeads + total, FRAME_HEADER_BYTES);
  writeVarintField(w, 1, action);
  if (joined) w.joinedBytes(2, data, total);
  else for (let i = 0; i < data.length; i++) w.bytes(2, data[i] as Uint8Array);
  return withFrameHeadroom(w.finish());
}

/**
 * Decode a DataRequest or DataResponse. Zero-copy: each element of `data` is a subarray view
 * of `buf`, so it shares memory with it (a change to `buf` shows in the chunks, and a kept
 * chunk keeps all of `buf` alive). Use `byteOffset`/`byteLength` when reaching for `.buffer`.
 */
export function decodeDataMessage(buf: Uint8Array): DataMessage {
  let action = 0;
  const data: Uint8Array[] = [];
  const r = new ProtoReader(buf);
  while (r.more()) {
    const tag = r.readTag();
    if (tag === TAG_DATA_CHUNK) data.push(r.readLengthDelimited());
    else if (tag === TAG_DATA_ACTION) action = r.readInt32();
    else r.skipField(tag & 7);
  }
  return { action: action as DataAction, data };
}
