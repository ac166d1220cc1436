import * as grpc from "@grpc/grpc-js";
import type { FiveTuple, KeyVal } from "../proto/messages.ts";
import {
  type AgentIdentity,
  AUTH_HEADERS,
  counterPairs,
  fiveTupleToMetadataPairs,
  identityPairs,
  MetadataKey,
  type MetadataPairs,
  ResumeHeader,
} from "../proto/metadata.ts";

/**
 * The gRPC metadata the agent sends, as pure lists of pairs (so tests and logs can see
 * them) and as grpc.Metadata. Header names are those of the wire contract.
 */
export interface DataCallParams {
  identity: AgentIdentity;
  tuple: FiveTuple;
  /** ControlResponse.metadata: every pair goes back verbatim. */
  serverPairs: readonly KeyVal[];
  sessionId: string;
  counterUp: number;
  counterDown: number;
  /** Offer resume after a lost stream (bgproxy's `resume` header). */
  resume?: boolean;
}

const VALID_KEY = /^[0-9a-z_.-]+$/;
/**
 * What HTTP/2 header values may hold: printable ASCII, neither starting nor ending with a
 * space (RFC 9113 8.2.1; Bun's and Node's HTTP/2 drop such a field on the way, so the gateway
 * would never see it). "-bin" values are base64.
 */
const VALID_VALUE = /^(?:[!-~](?:[ -~]*[!-~])?)?$/;
const RESERVED = new Set(AUTH_HEADERS);

/** The Data call's metadata. Pairs from the gateway that HTTP/2 cannot carry are dropped. */
export function dataCallPairs(p: DataCallParams): { pairs: MetadataPairs; dropped: string[] } {
  const pairs: MetadataPairs = [...identityPairs(p.identity), ...fiveTupleToMetadataPairs(p.tuple)];
  const dropped: string[] = [];
  for (const kv of p.serverPairs) {
    const key = kv.key.toLowerCase();
    if (!VALID_KEY.test(key) || key.startsWith("grpc-") || RESERVED.has(key)) {
      dropped.push(kv.key);
      continue;
    }
    if (!key.endsWith("-bin") && !kv.val.every((v) => VALID_VALUE.test(v))) {
      dropped.push(kv.key);
      continue;
    }
    for (const v of kv.val) pairs.push([key, v]);
  }
  pairs.push([MetadataKey.SESSION_ID, p.sessionId], ...counterPairs(p.counterUp, p.counterDown));
  if (p.resume) pairs.push([MetadataKey.RESUME, ResumeHeader.OFFER]);
  return { pairs, dropped };
}

export function toMetadata(pairs: MetadataPairs): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of pairs) {
    if (k.endsWith("-bin")) md.add(k, Buffer.from(v, "base64"));
    else md.add(k, v);
  }
  return md;
}

/** Metadata as a map of lists, as the reference product logs and reports it. */
export function metadataMap(md: grpc.Metadata): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, values] of Object.entries(md.toJSON())) {
    out[k] = values.map((v) => (typeof v === "string" ? v : Buffer.from(v).toString("base64")));
  }
  return out;
}

export function pairsMap(pairs: MetadataPairs): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of pairs) {
    const list = out[k] ?? [];
    list.push(v);
    out[k] = list;
  }
  return out;
}
