import { synFilter } from "../../../native/bpf.ts";
import { PacketSocket } from "../../../native/packet-socket.ts";
import {
  addTcpAoKey,
  deleteTcpAoKey,
  deleteTcpMd5Key,
  probeTcpAo,
  probeTcpMd5,
  setTcpMd5Key,
  type TcpAoSupport,
} from "../../../native/tcp-md5.ts";
import { normalizeIp } from "../../core/address.ts";
import type { Clock } from "../../core/clock.ts";
import { BgpProxyError, ConfigError, errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { ControlResponse, FiveTuple } from "../../proto/messages.ts";
import type { SignatureGate } from "./md5-admission.ts";
import {
  type KeyedListener,
  type KeyInstaller,
  type KeyManagerStatus,
  Md5KeyManager,
} from "./md5-key-manager.ts";
import { SynWatcher, type SynWatcherStatus, type WatchedListener } from "./syn-watcher.ts";
import { readTcpMd5Counters, type TcpMd5Counters } from "./tcp-md5-counters.ts";

/**
 * TCP-MD5 for router sessions (--enable-md5-support), composed: start-up probes that fail
 * closed with one line naming what is missing, the SYN watcher on a capture socket, and the
 * key table that asks the gateway and installs keys on the listening sockets.
 */
export interface Md5Status {
  enabled: boolean;
  interface: string;
  keysInstalled: number;
  tcpAo: TcpAoSupport | "not probed";
  /** TCPMD5NotFound / TCPMD5Unexpected / TCPMD5Failure of the agent's network namespace. */
  kernelCounters: TcpMd5Counters | null;
  keys?: KeyManagerStatus;
  capture?: SynWatcherStatus & { receiveBufferBytes: number };
}

/** Receive buffer of the capture socket: room for thousands of SYNs (~1-2 KiB each in the kernel). */
export const CAPTURE_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * The least the capture runs with (as getsockopt reports it, twice what was set): without
 * CAP_NET_ADMIN (Docker's default capabilities) the buffer is what net.core.rmem_max allows,
 * 2 x 212992 bytes on a default kernel, and a burst of 300 simultaneous signed SYNs fits in
 * it (test/e2e/md5-burst.test.ts); below half of that it fails, naming --cap-add NET_ADMIN.
 */
export const MINIMUM_CAPTURE_BUFFER_BYTES = 212_992;

/** A router listener as the TCP-MD5 code sees it. */
export interface Md5Listener {
  readonly fd: number | undefined;
  readonly address: { address: string; family: 4 | 6 };
  readonly bound: { port: number };
  readonly label: string;
}

export interface Md5StartDeps {
  listeners: readonly Md5Listener[];
  ask: (tuple: FiveTuple) => Promise<ControlResponse>;
  onAnswer: (response: ControlResponse) => void;
  isDenied: (deviceIp: string) => boolean;
  clock: Clock;
}

const nativeInstaller: KeyInstaller = {
  install(listener, peer, key, auth, v4Mapped) {
    if (auth.kind === "md5") setTcpMd5Key(listener.fd, { peer, key, v4Mapped });
    else addTcpAoKey(listener.fd, { peer, key, v4Mapped, ...auth });
  },
  remove(listener, peer, auth, v4Mapped) {
    if (auth.kind === "md5") deleteTcpMd5Key(listener.fd, { peer, v4Mapped });
    else deleteTcpAoKey(listener.fd, { peer, v4Mapped, sendId: auth.sendId, recvId: auth.recvId });
  },
};

/** The one line a failed start-up prints: a ConfigError for a bad flag, else "unsupported". */
function unsupported(err: unknown): BgpProxyError {
  const message = `TCP-MD5 support (--enable-md5-support): ${errorMessage(err)}`;
  if (err instanceof ConfigError) return new ConfigError(message);
  return new BgpProxyError("unsupported", message, { retryable: false, cause: err });
}

export class Md5Support implements SignatureGate {
  private watcher?: SynWatcher;
  private keys?: Md5KeyManager;
  private closed = false;

  private constructor(
    private readonly iface: string,
    private readonly socket: PacketSocket,
    private readonly receiveBufferBytes: number,
    readonly tcpAo: TcpAoSupport,
    private readonly logger: Logger,
  ) {}

  /**
   * Everything TCP-MD5 needs, checked before any listener binds: the kernel option, the raw
   * socket (CAP_NET_RAW), its buffer (CAP_NET_ADMIN), the interface. Throws a BgpProxyError
   * whose message is the one line to print.
   */
  static probe(
    config: { interface: string; captureBufferBytes?: number },
    logger: Logger,
  ): Md5Support {
    let socket: PacketSocket | undefined;
    try {
      probeTcpMd5();
      socket = PacketSocket.open();
      const wanted = config.captureBufferBytes ?? CAPTURE_BUFFER_BYTES;
      const buffer = socket.setReceiveBuffer(
        wanted,
        Math.min(wanted, MINIMUM_CAPTURE_BUFFER_BYTES),
      );
      if (!buffer.forced && buffer.effectiveBytes < wanted) {
        logger.warn(
          "SYN capture receive buffer limited by net.core.rmem_max (no CAP_NET_ADMIN): a large burst of connections may lose SYNs; docker run --cap-add NET_ADMIN, or sysctl net.core.rmem_max=4194304, gives it the full size",
          { receive_buffer_bytes: buffer.effectiveBytes, wanted_bytes: wanted },
        );
      }
      PacketSocket.interfaceIndex(config.interface);
      return new Md5Support(config.interface, socket, buffer.effectiveBytes, probeTcpAo(), logger);
    } catch (err) {
      socket?.close();
      throw unsupported(err);
    }
  }

  /** Attach the filter for the bound listeners' ports and start watching. */
  start(deps: Md5StartDeps): void {
    const keyed: KeyedListener[] = [];
    const watched: WatchedListener[] = [];
    for (const l of deps.listeners) {
      if (l.fd === undefined) {
        throw unsupported(`cannot reach the file descriptor of listener ${l.label}`);
      }
      const { address, family } = l.address;
      keyed.push({ fd: l.fd, family, label: l.label, dualStack: false });
      watched.push({ host: normalizeIp(address), port: l.bound.port, family });
    }
    try {
      this.socket.attachFilter(synFilter(watched.map((w) => w.port)));
      this.socket.bind(this.iface);
    } catch (err) {
      throw unsupported(err);
    }
    const keys = new Md5KeyManager({
      listeners: () => keyed,
      installer: nativeInstaller,
      ask: deps.ask,
      onAnswer: deps.onAnswer,
      isDenied: deps.isDenied,
      tcpAo: this.tcpAo === "available",
      clock: deps.clock,
      logger: this.logger,
    });
    const watcher = new SynWatcher({
      source: this.socket,
      listeners: () => watched,
      onSignedSyn: (syn) => keys.onSignedSyn(syn),
      clock: deps.clock,
      logger: this.logger,
    });
    this.keys = keys;
    this.watcher = watcher;
    watcher.start();
    this.logger.info("TCP-MD5 support enabled", {
      interface: this.iface,
      ports: [...new Set(watched.map((w) => w.port))],
      receive_buffer_bytes: this.receiveBufferBytes,
      tcp_ao: this.tcpAo,
    });
  }

  learn(response: ControlResponse): void {
    this.keys?.learn(response);
  }

  refresh(response: ControlResponse): void {
    this.keys?.refresh(response);
  }

  wasSigned(tuple: FiveTuple): boolean {
    return this.watcher?.wasSigned(tuple) ?? false;
  }

  status(): Md5Status {
    const keys = this.keys?.status();
    return {
      enabled: true,
      interface: this.iface,
      keysInstalled: keys?.keysInstalled ?? 0,
      tcpAo: this.tcpAo,
      kernelCounters: readTcpMd5Counters() ?? null,
      ...(keys ? { keys } : {}),
      ...(this.watcher
        ? { capture: { ...this.watcher.status(), receiveBufferBytes: this.receiveBufferBytes } }
        : {}),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keys && this.watcher) {
      this.logger.info("TCP-MD5 support stopped", {
        keys: this.keys.status(),
        capture: this.watcher.status(),
      });
    }
    this.keys?.close();
    if (this.watcher) this.watcher.close();
    else this.socket.close();
  }
}

/** The status of an agent started without --enable-md5-support. */
export function md5DisabledStatus(config: { interface: string }): Md5Status {
  return {
    enabled: false,
    interface: config.interface,
    keysInstalled: 0,
    tcpAo: "not probed",
    kernelCounters: readTcpMd5Counters() ?? null,
  };
}
