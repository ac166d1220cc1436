import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import {
  type DataCallParams,
  dataCallPairs,
  metadataMap,
  pairsMap,
  toMetadata,
} from "../../src/agent/call-metadata.ts";
import type { KeyVal } from "../../src/proto/messages.ts";
import { type AgentIdentity, identityPairs } from "../../src/proto/metadata.ts";

const identity: AgentIdentity = {
  email: "ops@example.com",
  token: "tok-123",
  siteId: 42,
  version: "0.1.0",
  instance: "6f1c2d0e-3b1a-4c55-9d1e-2a6b7c8d9e0f",
};

function params(serverPairs: KeyVal[] = [], overrides: Partial<DataCallParams> = {}) {
  return {
    identity,
    tuple: {
      proto: "BGP",
      deviceIp: "192.0.2.1",
      devicePort: 40_001,
      proxyIp: "198.51.100.1",
      proxyPort: 179,
    },
    serverPairs,
    sessionId: "0b7d6f0a-1111-4222-8333-444455556666",
    counterUp: 3,
    counterDown: 5,
    ...overrides,
  };
}

describe("identityPairs", () => {
  test("credentials under both token header names, then site, version and instance", () => {
    expect(identityPairs(identity)).toEqual([
      ["x-ch-auth-email", "ops@example.com"],
      ["x-ch-auth-api-token", "tok-123"],
      ["x-ch-auth-token", "tok-123"],
      ["sid", "42"],
      ["version", "0.1.0"],
      ["instance", identity.instance],
    ]);
    expect(pairsMap(identityPairs({ ...identity, siteId: 0 })).sid).toEqual(["0"]);
  });
});

describe("dataCallPairs", () => {
  test("identity, the 5-tuple, every server value, then session-id and counters", () => {
    const { pairs, dropped } = dataCallPairs(
      params([
        { key: "backend-pin", val: ["gw-7", "gw-9"] },
        { key: "region", val: ["fra1"] },
        { key: "nothing", val: [] },
      ]),
    );
    expect(dropped).toEqual([]);
    expect(pairs).toEqual([
      ...identityPairs(identity),
      ["proto", "BGP"],
      ["device-ip", "192.0.2.1"],
      ["device-port", "40001"],
      ["proxy-ip", "198.51.100.1"],
      ["proxy-port", "179"],
      ["backend-pin", "gw-7"],
      ["backend-pin", "gw-9"],
      ["region", "fra1"],
      ["session-id", "0b7d6f0a-1111-4222-8333-444455556666"],
      ["counter-up", "3"],
      ["counter-down", "5"],
    ]);
  });

  test("uppercase server keys are lowercased and kept", () => {
    const { pairs, dropped } = dataCallPairs(params([{ key: "Backend-PIN", val: ["x"] }]));
    expect(dropped).toEqual([]);
    expect(pairsMap(pairs)["backend-pin"]).toEqual(["x"]);
    expect(pairs.some(([k]) => k !== k.toLowerCase())).toBe(false);
  });

  test("keys HTTP/2 cannot carry, grpc- keys and credential names are dropped and reported", () => {
    const server: KeyVal[] = [
      { key: "has space", val: ["a"] },
      { key: "colon:key", val: ["b"] },
      { key: "", val: ["c"] },
      { key: "grpc-status", val: ["0"] },
      { key: "GRPC-Timeout", val: ["1S"] },
      { key: "x-ch-auth-email", val: ["evil@example.com"] },
      { key: "X-CH-AUTH-API-TOKEN", val: ["stolen"] },
      { key: "x-ch-auth-token", val: ["stolen"] },
      { key: "ok_key.v1", val: ["kept"] },
    ];
    const { pairs, dropped } = dataCallPairs(params(server));
    expect(dropped).toEqual([
      "has space",
      "colon:key",
      "",
      "grpc-status",
      "GRPC-Timeout",
      "x-ch-auth-email",
      "X-CH-AUTH-API-TOKEN",
      "x-ch-auth-token",
    ]);
    const map = pairsMap(pairs);
    expect(map["ok_key.v1"]).toEqual(["kept"]);
    expect(map["x-ch-auth-email"]).toEqual(["ops@example.com"]);
    expect(map["x-ch-auth-api-token"]).toEqual(["tok-123"]);
    expect(map["x-ch-auth-token"]).toEqual(["tok-123"]);
    expect(Object.keys(map).some((k) => k.startsWith("grpc-"))).toBe(false);
    // Whatever survives can be sent: grpc-js accepts every key.
    expect(() => toMetadata(pairs)).not.toThrow();
  });

  test("a server value HTTP/2 cannot carry does not make the call metadata throw", () => {
    // A gateway pair with a newline or a non-ASCII value: grpc-js refuses it in Metadata.add,
    // so dataCallPairs must drop (and report) it like an unsendable key.
    const { pairs, dropped } = dataCallPairs(
      params([
        { key: "note", val: ["line1\nline2"] },
        { key: "city", val: ["Zürich"] },
        { key: "backend-pin", val: ["gw-7"] },
      ]),
    );
    expect(() => toMetadata(pairs)).not.toThrow();
    expect(dropped).toEqual(["note", "city"]);
    expect(pairsMap(pairs)["backend-pin"]).toEqual(["gw-7"]);
  });

  test("a value that starts or ends with a space is dropped and reported (HTTP/2 would drop it unseen)", () => {
    const { pairs, dropped } = dataCallPairs(
      params([
        { key: "trailing", val: ["gw-7 "] },
        { key: "leading", val: [" gw-7"] },
        { key: "inner", val: ["gw 7"] },
        { key: "empty", val: [""] },
        { key: "one", val: ["x"] },
      ]),
    );
    expect(dropped).toEqual(["trailing", "leading"]);
    const map = pairsMap(pairs);
    expect(map.inner).toEqual(["gw 7"]);
    expect(map.empty).toEqual([""]);
    expect(map.one).toEqual(["x"]);
  });
});

describe("toMetadata / metadataMap", () => {
  test("a round trip gives back every key and value in order, a -bin key included", () => {
    const bin = Buffer.from([0, 1, 2, 250, 251, 252, 253]).toString("base64");
    const { pairs } = dataCallPairs(
      params([
        { key: "backend-pin", val: ["gw-7", "gw-9"] },
        { key: "trace-bin", val: [bin] },
      ]),
    );
    const md = toMetadata(pairs);
    expect(md).toBeInstanceOf(grpc.Metadata);
    expect(metadataMap(md)).toEqual(pairsMap(pairs));
    expect(md.get("backend-pin")).toEqual(["gw-7", "gw-9"]);
    const raw = md.get("trace-bin")[0];
    expect(Buffer.isBuffer(raw)).toBe(true);
    expect([...(raw as Buffer)]).toEqual([0, 1, 2, 250, 251, 252, 253]);
  });

  test("metadataMap turns binary values into base64 and keeps text as is", () => {
    const md = new grpc.Metadata();
    md.add("counter-up", "0");
    md.add("blob-bin", Buffer.from("hi"));
    md.add("counter-up", "1");
    expect(metadataMap(md)).toEqual({ "counter-up": ["0", "1"], "blob-bin": ["aGk="] });
  });

  test("pairsMap groups repeated keys in order", () => {
    expect(
      pairsMap([
        ["a", "1"],
        ["b", "2"],
        ["a", "3"],
      ]),
    ).toEqual({ a: ["1", "3"], b: ["2"] });
    expect(pairsMap([])).toEqual({});
  });
});
