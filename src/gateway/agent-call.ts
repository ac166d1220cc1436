import * as grpc from "@grpc/grpc-js";
import type { AccountConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import { authenticate, credentialsFrom } from "./auth.ts";

/**
 * What every call from an agent carries: who it is (authenticated account), its site,
 * version and instance. A call without valid credentials ends with UNAUTHENTICATED.
 */
export interface AgentCallInfo {
  account: AccountConfig;
  email: string;
  site: number;
  version: string;
  instance: string;
  peer: string;
}

export function metadataValue(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : Buffer.from(v).toString("utf8");
}

interface CallLike {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
  emit(event: "error", err: Partial<grpc.StatusObject>): boolean;
}

/** Authenticate a call; on failure answer UNAUTHENTICATED and return undefined. */
export function admitAgentCall(
  call: CallLike,
  accounts: readonly AccountConfig[],
  logger: Logger,
): AgentCallInfo | undefined {
  const creds = credentialsFrom(call.metadata);
  const account = authenticate(creds, accounts);
  const peer = call.getPeer();
  if (!account) {
    logger.warn("refused an agent: invalid credentials", { email: creds.email ?? "", peer });
    call.emit("error", { code: grpc.status.UNAUTHENTICATED, details: "invalid credentials" });
    return undefined;
  }
  const sid = Number(metadataValue(call.metadata, "sid") ?? "0");
  return {
    account,
    email: creds.email ?? "",
    site: Number.isInteger(sid) && sid >= 0 ? sid : 0,
    version: metadataValue(call.metadata, "version") ?? "",
    instance: metadataValue(call.metadata, "instance") ?? "",
    peer,
  };
}
