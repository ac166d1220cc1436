import * as grpc from "@grpc/grpc-js";
import type { AccountConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import { metadataReader, readCallIdentity, readCredentials } from "../proto/metadata.ts";
import { authenticate } from "./auth.ts";

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
  const read = metadataReader(call.metadata);
  const creds = readCredentials(read);
  const account = authenticate(creds, accounts);
  const peer = call.getPeer();
  if (!account) {
    logger.warn("refused an agent: invalid credentials", { email: creds.email ?? "", peer });
    call.emit("error", { code: grpc.status.UNAUTHENTICATED, details: "invalid credentials" });
    return undefined;
  }
  return { account, email: creds.email ?? "", ...readCallIdentity(read), peer };
}
