import * as grpc from "@grpc/grpc-js";
import type { AccountConfig } from "../config/types.ts";
import { metadataReader, readCallIdentity, readCredentials } from "../proto/metadata.ts";
import type { LoginGuard } from "./login-guard.ts";

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

/**
 * Authenticate a call; on failure answer UNAUTHENTICATED (or, for an address that failed
 * too often, RESOURCE_EXHAUSTED) and return undefined. The guard logs refusals.
 */
export function admitAgentCall(call: CallLike, guard: LoginGuard): AgentCallInfo | undefined {
  const read = metadataReader(call.metadata);
  const creds = readCredentials(read);
  const peer = call.getPeer();
  const outcome = guard.login(creds, peer);
  if (outcome.kind === "throttled") {
    call.emit("error", {
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: `too many failed logins from this address: retry in ${Math.ceil(outcome.retryAfterMs / 1000)} s`,
    });
    return undefined;
  }
  if (outcome.kind === "invalid") {
    call.emit("error", { code: grpc.status.UNAUTHENTICATED, details: "invalid credentials" });
    return undefined;
  }
  return { account: outcome.account, email: creds.email ?? "", ...readCallIdentity(read), peer };
}
