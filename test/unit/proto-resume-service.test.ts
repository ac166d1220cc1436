import { describe, expect, test } from "bun:test";
import path from "node:path";
import protobuf from "protobufjs";
import {
  ACKS_METHOD_PATH,
  decodeAck,
  encodeAck,
  fullCount,
  resumeServiceDefinition,
} from "../../src/proto/resume-service.ts";
import { ProtoEncodeError } from "../../src/proto/wire.ts";
import { prng } from "../support/prng.ts";

const root = protobuf.loadSync(path.join(import.meta.dir, "../../proto/resume.proto"));
const PbAck = root.lookupType("bgproxy.v1.Ack");
const service = root.lookupService("bgproxy.v1.ResumeService");

describe("bgproxy.v1.ResumeService", () => {
  test("the method path and streaming shape match proto/resume.proto", () => {
    const method = service.methods.Acks;
    expect(method?.requestStream).toBe(true);
    expect(method?.responseStream).toBe(true);
    expect(ACKS_METHOD_PATH).toBe(`/${service.fullName.slice(1)}/Acks`);
    expect(resumeServiceDefinition.acks.path).toBe(ACKS_METHOD_PATH);
  });

  test("Ack: the same bytes as a generic encoder, and back", () => {
    const rand = prng(3);
    const cases = [
      { sessionId: "", received: 0 },
      { sessionId: "0f6b1c1e-5c7e-4a43-9a7b-1d2e3f405162", received: 1 },
      { sessionId: "s", received: 2 ** 32 - 1 },
      ...Array.from({ length: 50 }, (_, i) => ({
        sessionId: `session-${i}-é`,
        received: Math.floor(rand() * 2 ** 32),
      })),
    ];
    for (const ack of cases) {
      const ours = encodeAck(ack);
      const generic = PbAck.encode(
        PbAck.create({
          ...(ack.sessionId ? { sessionId: ack.sessionId } : {}),
          ...(ack.received ? { received: ack.received } : {}),
        }),
      ).finish();
      expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(generic).toString("hex"));
      expect(decodeAck(ours)).toEqual(ack);
    }
    expect(() => encodeAck({ sessionId: "x", received: 2 ** 32 })).toThrow(ProtoEncodeError);
  });

  test("unknown fields are skipped", () => {
    const bytes = Buffer.concat([
      encodeAck({ sessionId: "a", received: 7 }),
      Buffer.from("1801", "hex"),
    ]);
    expect(decodeAck(bytes)).toEqual({ sessionId: "a", received: 7 });
  });

  test("fullCount: the largest count up to what was sent with those low 32 bits", () => {
    expect(fullCount(5, 10)).toBe(5);
    expect(fullCount(10, 10)).toBe(10);
    const sent = 2 ** 32 + 100;
    expect(fullCount(50, sent)).toBe(2 ** 32 + 50);
    expect(fullCount(2 ** 32 - 10, sent)).toBe(2 ** 32 - 10);
  });
});
