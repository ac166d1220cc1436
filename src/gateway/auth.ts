import { createHash, timingSafeEqual } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import type { AccountConfig } from "../config/types.ts";

/**
 * Agent authentication: the e-mail and API token from the call metadata against the
 * configured accounts, which hold only the token's SHA-256. Either token header name of
 * the contract is accepted.
 */
export interface AgentCredentials {
  email?: string;
  token?: string;
}

function first(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : Buffer.from(v).toString("utf8");
}

export function credentialsFrom(md: grpc.Metadata): AgentCredentials {
  return {
    email: first(md, "x-ch-auth-email"),
    token: first(md, "x-ch-auth-api-token") ?? first(md, "x-ch-auth-token"),
  };
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The matching account, or undefined. Compares digests in constant time. */
export function authenticate(
  creds: AgentCredentials,
  accounts: readonly AccountConfig[],
): AccountConfig | undefined {
  if (!creds.email || !creds.token) return undefined;
  const digest = Buffer.from(sha256Hex(creds.token), "hex");
  const email = creds.email.toLowerCase();
  let match: AccountConfig | undefined;
  for (const account of accounts) {
    const expected = Buffer.from(account.tokenSha256, "hex");
    const same = expected.length === digest.length && timingSafeEqual(expected, digest);
    if (same && account.email.toLowerCase() === email) match = account;
  }
  return match;
}
