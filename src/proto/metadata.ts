/**
 * gRPC metadata (HTTP/2 header) names of the ProxyService calls, as in the wire-protocol spec,
 * and pure helpers to build and read them.
 */
import type { Metadata } from "@grpc/grpc-js";
import type { FiveTuple } from "./messages.ts";

/** Header names. gRPC metadata keys are lower-case. */
export const MetadataKey = {
  /** Account e-mail (both calls). */
  AUTH_EMAIL: "x-ch-auth-email",
  /** API token (both calls); the name the reference product sends. */
  AUTH_API_TOKEN: "x-ch-auth-api-token",
  /** API token under the name of the published contract's comment: send both, accept either. */
  AUTH_TOKEN: "x-ch-auth-token",
  /** Site id; "0" = any site. */
  SITE_ID: "sid",
  /** Agent version. */
  VERSION: "version",
  /** Random UUIDv4 made once at agent start-up. */
  INSTANCE: "instance",
  /** Data: application protocol of the 5-tuple ("BGP"). */
  PROTO: "proto",
  /** Data: the router's address as the agent sees it. */
  DEVICE_IP: "device-ip",
  /** Data: the router's port. */
  DEVICE_PORT: "device-port",
  /** Data: the agent's local address of the connection. */
  PROXY_IP: "proxy-ip",
  /** Data: the agent's local port of the connection. */
  PROXY_PORT: "proxy-port",
  /** Data: random UUIDv4 per accepted TCP connection, kept across stream restarts. */
  SESSION_ID: "session-id",
  /** Data: DataRequest messages already sent (agent) or received (gateway) in the session. */
  COUNTER_UP: "counter-up",
  /** Data: DataResponse messages already received (agent) or sent (gateway) in the session. */
  COUNTER_DOWN: "counter-down",
  /**
   * ControlResponse, copied by the agent onto the Data call: the name of the gateway that
   * answered, so that a load balancer can route the session's Data streams to it.
   */
  BACKEND_PIN: "backend-pin",
  /**
   * Data, bgproxy's extension: resume after a lost stream (docs/wire-protocol.md, "Resume").
   * The agent sends `offer`; a gateway that keeps the session for a re-attach answers
   * `accepted` (a new session) or `resumed` (re-attached to the session it held). Absent:
   * the contract's behaviour, no acknowledgements.
   */
  RESUME: "resume",
} as const;

/** Values of the `resume` header. */
export const ResumeHeader = { OFFER: "offer", ACCEPTED: "accepted", RESUMED: "resumed" } as const;

/** One of the header names above. */
export type MetadataKeyName = (typeof MetadataKey)[keyof typeof MetadataKey];

/** The credential headers: never taken from the gateway's ControlResponse, never logged. */
export const AUTH_HEADERS: readonly string[] = [
  MetadataKey.AUTH_EMAIL,
  MetadataKey.AUTH_API_TOKEN,
  MetadataKey.AUTH_TOKEN,
];

/** Header pairs in order; a key may repeat. */
export type MetadataPairs = Array<[key: string, value: string]>;

/** Who an agent is, as both calls carry it. */
export interface AgentIdentity {
  email: string;
  token: string;
  siteId: number;
  version: string;
  instance: string;
}

/** Credentials as a call or an HTTP request carries them (either may be missing). */
export interface AgentCredentials {
  email?: string;
  token?: string;
}

/** Reads one header by name: grpc.Metadata through `readMetadataString`, or HTTP headers. */
export type HeaderReader = (name: string) => string | undefined;

/** Both calls: credentials (under both token header names), site, version, instance. */
export function identityPairs(id: AgentIdentity): MetadataPairs {
  return [
    [MetadataKey.AUTH_EMAIL, id.email],
    [MetadataKey.AUTH_API_TOKEN, id.token],
    [MetadataKey.AUTH_TOKEN, id.token],
    [MetadataKey.SITE_ID, String(id.siteId)],
    [MetadataKey.VERSION, id.version],
    [MetadataKey.INSTANCE, id.instance],
  ];
}

/** The OTLP export's HTTP headers: the identity with the token under one name. */
export function exportHeaders(id: AgentIdentity): Record<string, string> {
  return {
    [MetadataKey.AUTH_EMAIL]: id.email,
    [MetadataKey.AUTH_API_TOKEN]: id.token,
    [MetadataKey.INSTANCE]: id.instance,
    [MetadataKey.VERSION]: id.version,
    [MetadataKey.SITE_ID]: String(id.siteId),
  };
}

/** E-mail and token; the token under either of the contract's names (the reference's first). */
export function readCredentials(get: HeaderReader): AgentCredentials {
  return {
    email: get(MetadataKey.AUTH_EMAIL),
    token: get(MetadataKey.AUTH_API_TOKEN) ?? get(MetadataKey.AUTH_TOKEN),
  };
}

/** Site (a bad or missing value is 0, "any site"), version and instance of a call. */
export function readCallIdentity(get: HeaderReader): {
  site: number;
  version: string;
  instance: string;
} {
  const sid = Number(get(MetadataKey.SITE_ID) ?? "0");
  return {
    site: Number.isInteger(sid) && sid >= 0 ? sid : 0,
    version: get(MetadataKey.VERSION) ?? "",
    instance: get(MetadataKey.INSTANCE) ?? "",
  };
}

/** A Data call's session headers as the gateway reads them (missing values empty or 0). */
export interface DataCallHeaders {
  sessionId: string;
  deviceIp: string;
  devicePort: number;
  proxyIp: string;
  proxyPort: number;
  counterUp: number;
  counterDown: number;
  /** The agent offered resume (the `resume` header). */
  resumeOffered: boolean;
}

export function readDataCallHeaders(get: HeaderReader): DataCallHeaders {
  return {
    sessionId: get(MetadataKey.SESSION_ID) ?? "",
    deviceIp: get(MetadataKey.DEVICE_IP) ?? "",
    devicePort: Number(get(MetadataKey.DEVICE_PORT) ?? 0),
    proxyIp: get(MetadataKey.PROXY_IP) ?? "",
    proxyPort: Number(get(MetadataKey.PROXY_PORT) ?? 0),
    counterUp: Number(get(MetadataKey.COUNTER_UP) ?? 0),
    counterDown: Number(get(MetadataKey.COUNTER_DOWN) ?? 0),
    resumeOffered: get(MetadataKey.RESUME) === ResumeHeader.OFFER,
  };
}

/** The ControlResponse.metadata a gateway called `name` answers with. */
export function backendPinMetadata(name: string): Array<{ key: string; val: string[] }> {
  return [{ key: MetadataKey.BACKEND_PIN, val: [name] }];
}

/** The `backend-pin` a Data call carries, or undefined. */
export function readBackendPin(get: HeaderReader): string | undefined {
  return get(MetadataKey.BACKEND_PIN);
}

/** The message counters of a Data call, as header pairs. */
export function counterPairs(up: number, down: number): MetadataPairs {
  return [
    [MetadataKey.COUNTER_UP, String(up)],
    [MetadataKey.COUNTER_DOWN, String(down)],
  ];
}

/** The counters the gateway answered with, or undefined when either header is absent. */
export function readCounters(get: HeaderReader): { up: number; down: number } | undefined {
  const up = get(MetadataKey.COUNTER_UP);
  const down = get(MetadataKey.COUNTER_DOWN);
  if (up === undefined || down === undefined) return undefined;
  return { up: Number(up), down: Number(down) };
}

/** The gateway's `resume` answer, or undefined when absent (no resume). */
export function readResumeAnswer(get: HeaderReader): "accepted" | "resumed" | undefined {
  const value = get(MetadataKey.RESUME);
  return value === ResumeHeader.ACCEPTED || value === ResumeHeader.RESUMED ? value : undefined;
}

/**
 * The 5-tuple as the Data call's header pairs, in the spec's order: proto, device-ip,
 * device-port, proxy-ip, proxy-port (ports in decimal).
 */
export function fiveTupleToMetadataPairs(tuple: FiveTuple): Array<[MetadataKeyName, string]> {
  return [
    [MetadataKey.PROTO, tuple.proto],
    [MetadataKey.DEVICE_IP, tuple.deviceIp],
    [MetadataKey.DEVICE_PORT, String(tuple.devicePort)],
    [MetadataKey.PROXY_IP, tuple.proxyIp],
    [MetadataKey.PROXY_PORT, String(tuple.proxyPort)],
  ];
}

/**
 * The first value of header `key` as a string (a binary value is decoded as UTF-8), or
 * undefined when the header is absent.
 */
export function readMetadataString(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : Buffer.from(value).toString("utf8");
}

/** A HeaderReader over grpc.Metadata. */
export function metadataReader(metadata: Metadata): HeaderReader {
  return (key) => readMetadataString(metadata, key);
}
