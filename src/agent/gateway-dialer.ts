import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate, rootCertificates } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { formatHostPort } from "../config/address.ts";
import type { AgentConfig } from "../config/types.ts";
import { ConfigError } from "../core/errors.ts";
import { type ProxyClient, ProxyServiceClient } from "../proto/service.ts";
import { transportKeepalive } from "../proto/transport-liveness.ts";
import { userAgent } from "../version.ts";
import { ActiveCalls, ReapingCredentials } from "./reaping-credentials.ts";

/**
 * How the agent dials the gateway: target, TLS trust, HTTP CONNECT proxy and HTTP/2
 * settings, made once from the config. Every client gets its own HTTP/2 connection
 * (a local subchannel pool), so `--multi` really bounds the streams per connection.
 */

/**
 * HTTP/2 flow-control window per stream and connection (grpc-js sets both from one option):
 * one stream is not capped at 64 KiB, and what one session holds at the agent while its
 * router reads slowly stays near 2 MiB. With 8 MiB, one stalled session stopped every other
 * session on its connection (measured; see DEVELOPERS.md).
 */
export const FLOW_CONTROL_WINDOW = 2 * 1024 * 1024;

/** Where distributions keep the system trust store, first found wins. */
const SYSTEM_CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, OpenWrt (ca-bundle)
  "/etc/pki/tls/certs/ca-bundle.crt", // RHEL, Fedora
  "/etc/ssl/cert.pem", // Alpine, OpenWrt
  "/etc/ssl/ca-bundle.pem", // openSUSE
];

/** The name the gateway's certificate must carry: --tls-server-name, else the target host. */
export function tlsServerName(config: AgentConfig): string | undefined {
  return config.tlsServerName ?? (isIP(config.target.host) ? undefined : config.target.host);
}

/**
 * The DNS name that stands for an IP `--target` in TLS: the address's reverse-DNS name
 * (1.2.0.192.in-addr.arpa). Bun's TLS client refuses an IP address as ServerName, and
 * grpc-js always sets one, so it gets this name; the certificate is then checked against
 * the target's IP address by ipIdentityCheck, never against this name.
 */
export function ipStandInName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  const groups = ip.split("::");
  const head = (groups[0] ?? "").split(":").filter((g) => g !== "");
  const tail = (groups[1] ?? "").split(":").filter((g) => g !== "");
  const zeros = Array(8 - head.length - tail.length).fill("0");
  const nibbles = [...head, ...(groups.length > 1 ? zeros : []), ...tail]
    .map((g) => g.padStart(4, "0"))
    .join("");
  return `${[...nibbles].reverse().join(".")}.ip6.arpa`;
}

/** TLS to an IP target without --tls-server-name: the certificate must carry that IP as a SAN. */
function ipIdentityCheck(ip: string) {
  return (_standIn: string, cert: PeerCertificate) => checkServerIdentity(ip, cert);
}

function verifiesIpSan(config: AgentConfig): boolean {
  return !config.insecure && !config.tlsServerName && isIP(config.target.host) !== 0;
}

/** Channel arguments for grpc-js (pure: no I/O). */
export function channelOptions(config: AgentConfig): grpc.ChannelOptions {
  const keepalive = transportKeepalive();
  const options: grpc.ChannelOptions = {
    "grpc.primary_user_agent": userAgent,
    "grpc.use_local_subchannel_pool": 1,
    // A relayed stream is never retried. grpc-js's retry buffer also acknowledges a write at
    // once (before HTTP/2 took it) while the call's buffered messages stay under the per-call
    // limit (1 MiB by default), hiding back-pressure, and it does so with retries off too
    // (grpc-js 1.14: RetryingCall buffers in its NO_RETRY state): a limit of 0 makes every
    // write call back only once HTTP/2 sent it (test/component/proto-frame-release.test.ts).
    "grpc.enable_retries": 0,
    "grpc.per_rpc_retry_buffer_size": 0,
    "grpc.enable_http_proxy": 0, // the proxy comes from our config, not grpc-js's env reading
    // Nothing reads channelz; with it on, every call carries its trackers and their closures.
    "grpc.enable_channelz": 0,
    "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW,
    "grpc.keepalive_time_ms": keepalive.timeMs,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 1_000,
    "grpc.max_reconnect_backoff_ms": 30_000,
  };
  const serverName = config.insecure ? undefined : config.tlsServerName;
  if (serverName) {
    options["grpc.ssl_target_name_override"] = serverName;
    options["grpc.default_authority"] = serverName;
  } else if (verifiesIpSan(config)) {
    options["grpc.ssl_target_name_override"] = ipStandInName(config.target.host);
  }
  if (config.proxy) {
    options["grpc.http_connect_target"] = `dns:${formatHostPort(config.target)}`;
    if (config.proxy.credentials) options["grpc.http_connect_creds"] = config.proxy.credentials;
  }
  return options;
}

/** What grpc-js dials: the gateway, or the HTTP proxy that CONNECTs to it. */
export function channelTarget(config: AgentConfig): string {
  const hp = config.proxy ?? config.target;
  return `dns:${formatHostPort(hp)}`;
}

/** The system trust store plus --ca-file, as one PEM bundle (also used by the exporters). */
export function trustedRoots(config: Pick<AgentConfig, "caFile">): Buffer {
  const parts: string[] = [];
  const system = SYSTEM_CA_BUNDLES.find((f) => existsSync(f));
  if (system) parts.push(readFileSync(system, "utf8"));
  else parts.push(...rootCertificates);
  if (config.caFile) {
    try {
      parts.push(readFileSync(config.caFile, "utf8"));
    } catch (err) {
      throw new ConfigError(`--ca-file ${config.caFile}: ${(err as Error).message}`);
    }
  }
  return Buffer.from(parts.join("\n"));
}

export class GatewayDialer {
  private readonly credentials: grpc.ChannelCredentials;
  private readonly target: string;

  constructor(private readonly config: AgentConfig) {
    const verify = verifiesIpSan(config)
      ? { checkServerIdentity: ipIdentityCheck(config.target.host) }
      : {};
    this.credentials = config.insecure
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(trustedRoots(config), null, null, verify);
    this.target = channelTarget(config);
  }

  /**
   * A new client with its own HTTP/2 connection (opened lazily by grpc-js). Its connections
   * that grpc-js abandons are reaped, but never while the client has an active call.
   */
  client(): ProxyClient {
    const calls = new ActiveCalls();
    const credentials = new ReapingCredentials(this.credentials, undefined, () => calls.busy);
    return new ProxyServiceClient(this.target, credentials, {
      ...channelOptions(this.config),
      interceptors: [calls.interceptor],
    }) as unknown as ProxyClient;
  }

  /** For logs and status: where the gateway is (never with credentials). */
  get targetLabel(): string {
    return formatHostPort(this.config.target);
  }
}
