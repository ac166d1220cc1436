import type { LogLevel } from "../core/logger.ts";

/** A host and port to bind or dial. `host` is an IP literal or a name, without brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** An HTTP CONNECT proxy for the gRPC connection (from HTTP(S)_PROXY, unless NO_PROXY matches). */
export interface HttpProxy {
  readonly host: string;
  readonly port: number;
  /** "user:pass" for Proxy-Authorization, decoded; a secret, never logged. */
  readonly credentials?: string;
}

export interface LogConfig {
  readonly level: LogLevel;
  readonly human: boolean;
}

/** Everything `bgproxy agent` runs with: made once from flags, env and defaults, frozen. */
export interface AgentConfig {
  readonly email: string;
  /** The API token: a secret, never logged or rendered. */
  readonly token: string;
  /** iad1, fra1 or another region name (grpc.api.<name>.kentik.com). */
  readonly region: string;
  /** Where the gateway is: the region's default, or `--target`. */
  readonly target: HostPort;
  readonly insecure: boolean;
  /** PEM file of a private CA to trust in addition to the system store. */
  readonly caFile?: string;
  /** TLS server name to verify (and send as SNI) when the target is an IP address. */
  readonly tlsServerName?: string;
  /** Router-facing listeners. */
  readonly listen: readonly HostPort[];
  readonly siteId: number;
  /** At most this many Data streams per HTTP/2 connection. */
  readonly multi: number;
  readonly md5: {
    readonly enabled: boolean;
    readonly interface: string;
    /** The SYN capture's receive buffer; CAPTURE_BUFFER_BYTES when absent. */
    readonly captureBufferBytes?: number;
  };
  readonly metrics: { readonly addr: string; readonly port: number };
  readonly export: {
    /** --disable-log-export: no log records leave the agent. */
    readonly logsDisabled: boolean;
    /** --disable-metrics-export: no metric snapshots leave the agent. */
    readonly metricsDisabled: boolean;
    readonly logUrl: string;
    readonly metricsUrl: string;
  };
  readonly log: LogConfig;
  readonly proxy?: HttpProxy;
  /** Seconds between Control-stream keepalives, and how long without any answer before redial. */
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number };
  /**
   * BGP-aware bridging: how long a router's Established session is kept up while the far
   * end is gone (docs/resilience.md); 0 = no bridging.
   */
  readonly bridgeTimeoutMs: number;
  /**
   * Resume after a lost Data stream, tried before bridging (docs/resilience.md): how long
   * the agent tries to re-attach, and the replay buffer bound per direction. Absent = off.
   */
  readonly resume?: ResumeSettings;
  /**
   * Put the runtime's background threads (JIT compilers, ...) under SCHED_IDLE while the CPU
   * has room (src/core/background-threads.ts); false: `--disable-thread-lowering`.
   */
  readonly lowerBackgroundThreads: boolean;
}

/** Resume after a lost Data stream: the time allowed and the replay buffer's bound. */
export interface ResumeSettings {
  /** Agent: how long it tries to re-attach; gateway: how long it holds the far end. */
  readonly windowMs: number;
  /** Replay buffer bound per session and direction, in bytes. */
  readonly limitBytes: number;
}

export type DeviceTarget =
  | { readonly kind: "collector" }
  | {
      readonly kind: "forward";
      readonly forward: HostPort;
      readonly source?: string;
      /** false: the gateway does not watch the session's BGP (no state or counts shown). */
      readonly observe?: boolean;
    };

export interface DeviceConfig {
  readonly name: string;
  readonly id: number;
  /** 0 = any site. */
  readonly site: number;
  readonly ip: string;
  /** TCP-MD5 key; a secret, never logged or rendered. */
  readonly md5Key?: string;
  readonly target: DeviceTarget;
}

export interface AccountConfig {
  readonly email: string;
  /** Lowercase hex SHA-256 of the API token. */
  readonly tokenSha256: string;
  readonly companyId: number;
}

export interface CollectorConfig {
  readonly asn: number;
  readonly routerId: string;
  /** Hold time we offer in OPEN, seconds (0 or >= 3). */
  readonly holdTime: number;
}

/** [mrt]: periodic MRT TABLE_DUMP_V2 files of the collector's Adj-RIB-In. */
export interface MrtDumpConfig {
  readonly dir: string;
  readonly intervalSeconds: number;
  /** Files kept per device (older ones are removed). */
  readonly keep: number;
}

/** [[bmp]]: a BMP station (RFC 7854) the gateway feeds. */
export interface BmpStationConfig {
  readonly address: HostPort;
  /** Bytes held for the station while it is unreachable; beyond that, the RIB is re-sent. */
  readonly bufferBytes: number;
}

export interface GatewayConfig {
  /**
   * This gateway's name among its peers behind a load balancer (`--name`, default the host
   * name): sent as `backend-pin` in ControlResponse metadata, shown by /api/devices and
   * /metrics. Undefined (in-process tests, standalone): no pin.
   */
  readonly name?: string;
  readonly listen: HostPort;
  readonly httpListen: HostPort;
  /**
   * Where agents POST their OTLP logs and metrics (TLS like the gRPC port unless
   * --insecure); undefined = no such listener (the HTTP API takes exports too).
   */
  readonly exportListen?: HostPort;
  readonly insecure: boolean;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly accounts: readonly AccountConfig[];
  readonly collector: CollectorConfig;
  readonly devices: readonly DeviceConfig[];
  readonly mrt?: MrtDumpConfig;
  readonly bmp?: readonly BmpStationConfig[];
  /** Accept any router as a collector device (standalone without a device list). */
  readonly acceptAny: boolean;
  /** How long stopping waits for drained sessions (RESTART sent) to end; default 10 s. */
  readonly drainTimeoutMs?: number;
  /** Hold a lost stream's far end for a resume (docs/resilience.md); absent = off. */
  readonly resume?: ResumeSettings;
  readonly log: LogConfig;
  /** As AgentConfig's: background threads under SCHED_IDLE unless `--disable-thread-lowering`. */
  readonly lowerBackgroundThreads: boolean;
}

/** `bgproxy standalone`: an agent and a gateway (with its collector) in one process on loopback. */
export interface StandaloneConfig {
  readonly agent: AgentConfig;
  readonly gateway: GatewayConfig;
  /** True when no --config was given and every router is accepted (warned about at start). */
  readonly acceptAny: boolean;
  /**
   * --demo: a built-in router connects to `connectHost` (the first listener's port, once
   * bound) from `source`, the demo device's address.
   */
  readonly demo?: { readonly connectHost: string; readonly source: string };
}
