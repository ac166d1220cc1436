import { timingSafeEqual } from "node:crypto";
import type { AccountConfig } from "../config/types.ts";
import { sha256Hex } from "../core/sha256.ts";
import type { AgentCredentials } from "../proto/metadata.ts";

/**
 * Agent authentication: the e-mail and API token (read by src/proto/metadata.ts, either
 * token header name of the contract) against the configured accounts, which hold only the
 * token's SHA-256.
 */

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
