/**
 * bgproxy.v1.ResumeService (proto/resume.proto): the acknowledgements of resume after a lost
 * Data stream, on a stream of their own so that the ProxyService messages stay exactly as
 * published. Hand-written codec (same rules as codec.ts) and the grpc-js method definition.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  checkUint32,
  ProtoReader,
  ProtoWriter,
  tagSize,
  utf8Length,
  varintSize,
  WireType,
} from "./wire.ts";

/** One acknowledgement: `received` data messages of the session came in (mod 2^32). */
export interface Ack {
  sessionId: string;
  received: number;
}

export const RESUME_SERVICE_NAME = "bgproxy.v1.ResumeService";
/** HTTP/2 path of the Acks call. */
export const ACKS_METHOD_PATH = "/bgproxy.v1.ResumeService/Acks";

const TAG_SESSION_ID = 0x0a; // 1, length-delimited
const TAG_RECEIVED = 0x10; // 2, varint

export function encodeAck(ack: Ack): Buffer {
  checkUint32(ack.received, "Ack.received");
  const idLength = utf8Length(ack.sessionId);
  let size = 0;
  if (idLength > 0) size += tagSize(1) + varintSize(idLength) + idLength;
  if (ack.received !== 0) size += tagSize(2) + varintSize(ack.received);
  const w = new ProtoWriter(size);
  if (idLength > 0) w.string(1, ack.sessionId, idLength);
  if (ack.received !== 0) {
    w.tag(2, WireType.VARINT);
    w.varint(ack.received);
  }
  return w.finish();
}

export function decodeAck(buf: Uint8Array): Ack {
  const ack: Ack = { sessionId: "", received: 0 };
  const r = new ProtoReader(buf);
  while (r.more()) {
    const tag = r.readTag();
    if (tag === TAG_SESSION_ID) ack.sessionId = r.readString();
    else if (tag === TAG_RECEIVED) ack.received = r.readVarint();
    else r.skipField(tag & 7);
  }
  return ack;
}

const acksMethod: grpc.MethodDefinition<Ack, Ack> = {
  path: ACKS_METHOD_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: encodeAck,
  requestDeserialize: decodeAck,
  responseSerialize: encodeAck,
  responseDeserialize: decodeAck,
  originalName: "Acks",
};

export interface ResumeServiceServer extends grpc.UntypedServiceImplementation {
  acks: grpc.handleBidiStreamingCall<Ack, Ack>;
}

export const resumeServiceDefinition: grpc.ServiceDefinition<ResumeServiceServer> = {
  acks: acksMethod,
};

/** Open the Acks stream on an existing client's channel (any grpc.Client of the gateway). */
export function openAcks(
  client: grpc.Client,
  metadata: grpc.Metadata,
): grpc.ClientDuplexStream<Ack, Ack> {
  return client.makeBidiStreamRequest(ACKS_METHOD_PATH, encodeAck, decodeAck, metadata);
}

/**
 * The full count from its low 32 bits: the largest count <= `limit` with those bits (a
 * count never exceeds what this side sent).
 */
export function fullCount(low: number, limit: number): number {
  const two32 = 2 ** 32;
  return limit - ((((limit - low) % two32) + two32) % two32);
}
