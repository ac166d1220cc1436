import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import type { AccountConfig } from "../../src/config/types.ts";
import { sha256Hex } from "../../src/core/sha256.ts";
import { authenticate } from "../../src/gateway/auth.ts";
import {
  type AgentCredentials,
  metadataReader,
  readCredentials,
} from "../../src/proto/metadata.ts";

function credentialsFrom(m: grpc.Metadata): AgentCredentials {
  return readCredentials(metadataReader(m));
}

const accounts: AccountConfig[] = [
  { email: "Ops@Example.com", tokenSha256: sha256Hex("tok-ops"), companyId: 1001 },
  { email: "noc@example.net", tokenSha256: sha256Hex("tok-noc"), companyId: 2002 },
  // Same token as the first account, another e-mail: the e-mail must decide.
  { email: "other@example.org", tokenSha256: sha256Hex("tok-ops"), companyId: 3003 },
];

function md(pairs: Array<[string, string]>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of pairs) m.add(k, v);
  return m;
}

describe("sha256Hex", () => {
  test("known vectors, lowercase hex", () => {
    expect(sha256Hex("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  test("the text is hashed as UTF-8", () => {
    expect(sha256Hex("é")).toBe(
      new Bun.CryptoHasher("sha256").update(Buffer.from([0xc3, 0xa9])).digest("hex"),
    );
  });
});

describe("credentialsFrom", () => {
  test("reads the e-mail and the token under its main name", () => {
    expect(
      credentialsFrom(
        md([
          ["x-ch-auth-email", "a@b.c"],
          ["x-ch-auth-api-token", "t1"],
        ]),
      ),
    ).toEqual({ email: "a@b.c", token: "t1" });
  });

  test("accepts the x-ch-auth-token alias; the main name wins when both are sent", () => {
    expect(credentialsFrom(md([["x-ch-auth-token", "t2"]]))).toEqual({
      email: undefined,
      token: "t2",
    });
    expect(
      credentialsFrom(
        md([
          ["x-ch-auth-token", "alias"],
          ["x-ch-auth-api-token", "main"],
        ]),
      ).token,
    ).toBe("main");
  });

  test("nothing sent: nothing found", () => {
    expect(credentialsFrom(new grpc.Metadata())).toEqual({ email: undefined, token: undefined });
  });
});

describe("authenticate", () => {
  test("the account whose e-mail (any case) and token digest match", () => {
    expect(authenticate({ email: "ops@example.com", token: "tok-ops" }, accounts)?.companyId).toBe(
      1001,
    );
    expect(authenticate({ email: "NOC@EXAMPLE.NET", token: "tok-noc" }, accounts)?.companyId).toBe(
      2002,
    );
    expect(
      authenticate({ email: "other@example.org", token: "tok-ops" }, accounts)?.companyId,
    ).toBe(3003);
  });

  test("credentials from metadata, through the alias, authenticate", () => {
    const creds = credentialsFrom(
      md([
        ["x-ch-auth-email", "noc@example.net"],
        ["x-ch-auth-token", "tok-noc"],
      ]),
    );
    expect(authenticate(creds, accounts)?.email).toBe("noc@example.net");
  });

  test("a wrong token, a wrong e-mail, a crossed pair or anything missing finds nothing", () => {
    const cases = [
      { email: "ops@example.com", token: "tok-OPS" },
      { email: "ops@example.com", token: "tok-ops " },
      { email: "ops@example.co", token: "tok-ops" },
      { email: "ops@example.com", token: "tok-noc" },
      { email: "ops@example.com", token: sha256Hex("tok-ops") },
      { email: "ops@example.com", token: "" },
      { email: "", token: "tok-ops" },
      { email: "ops@example.com" },
      { token: "tok-ops" },
      {},
    ];
    for (const creds of cases) expect(authenticate(creds, accounts)).toBeUndefined();
    expect(authenticate({ email: "ops@example.com", token: "tok-ops" }, [])).toBeUndefined();
  });

  test("an account with a malformed digest never matches", () => {
    const bad: AccountConfig[] = [
      { email: "x@example.com", tokenSha256: "not-hex", companyId: 1 },
      { email: "x@example.com", tokenSha256: sha256Hex("t").slice(0, 40), companyId: 2 },
    ];
    expect(authenticate({ email: "x@example.com", token: "t" }, bad)).toBeUndefined();
  });
});
