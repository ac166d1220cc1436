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
} as const;

/** One of the header names above. */
export type MetadataKeyName = (typeof MetadataKey)[keyof typeof MetadataKey];

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
  return typeof value === "string" ? value : value.toString("utf8");
}
