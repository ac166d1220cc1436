import { normalizeIp } from "../../core/address.ts";
import type { Clock, TimerHandle } from "../../core/clock.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { ControlAction, type ControlResponse, type FiveTuple } from "../../proto/messages.ts";
import type { SynPacket } from "./syn-packet.ts";

/**
 * TCP-MD5 keys learned on demand. A signed SYN from a device without a key yet asks the
 * gateway once (concurrent SYNs from one device share the question); the answer's `tcp_md5`
 * is installed on every listening socket of the device's address family before the router
 * retransmits its SYN (about a second later). Keys live for the answer's TTL, a changed key
 * replaces the old one, an empty key removes it, and the table is bounded (least recently
 * refreshed key evicted). A device without a key is remembered for the TTL too, so that its
 * signed SYNs do not ask again and again. Keys are secrets: never logged.
 *
 * Where the kernel has TCP-AO and the SYN carries the AO option, the same path installs a
 * TCP-AO master key (RFC 5926 HMAC-SHA-1-96, key ids taken from the SYN) instead.
 */
export const MAX_DEVICE_KEYS = 4096;
/**
 * At most this many devices' questions in flight: a flood of signed SYNs from (spoofed) new
 * addresses is shed beyond it; real routers retransmit and are asked about on a later SYN.
 */
export const MAX_QUESTIONS_IN_FLIGHT = 1024;
/** Lifetime of a key whose answer said `ttl_seconds` 0 ("do not cache"): it must outlive a retransmit. */
export const ZERO_TTL_KEY_SECONDS = 30;

export interface KeyedListener {
  readonly fd: number;
  readonly family: 4 | 6;
  /** "host:port", for log lines. */
  readonly label: string;
  /** An IPv6 socket that also accepts IPv4 peers (keys for them take the ::ffff:a.b.c.d form). */
  readonly dualStack: boolean;
}

export type KeyAuth =
  | { kind: "md5" }
  | { kind: "ao"; algorithm: string; sendId: number; recvId: number; macLength: number };

/** What touches the kernel: the native layer in production, a recorder in tests. */
export interface KeyInstaller {
  install(
    listener: KeyedListener,
    peer: string,
    key: Uint8Array,
    auth: KeyAuth,
    v4Mapped: boolean,
  ): void;
  remove(listener: KeyedListener, peer: string, auth: KeyAuth, v4Mapped: boolean): void;
}

export interface Md5KeyManagerOptions {
  listeners: () => readonly KeyedListener[];
  installer: KeyInstaller;
  /** Ask the gateway (ControlChannel.request). */
  ask: (tuple: FiveTuple) => Promise<ControlResponse>;
  /** Hand every answer to admission: BLOCK_IP deny-lists, a proceed answer is cached. */
  onAnswer: (response: ControlResponse) => void;
  isDenied: (deviceIp: string) => boolean;
  /** Whether TCP-AO keys can be installed (the start-up probe said so). */
  tcpAo: boolean;
  clock: Clock;
  logger: Logger;
  maxKeys?: number;
  maxInFlight?: number;
}

export interface KeyManagerStatus {
  keysInstalled: number;
  devicesWithoutKey: number;
  requests: number;
  requestFailures: number;
  /** Signed SYNs not asked about because MAX_QUESTIONS_IN_FLIGHT were pending. */
  shed: number;
  installFailures: number;
  expired: number;
  replaced: number;
  evicted: number;
}

interface Entry {
  deviceIp: string;
  family: 4 | 6;
  /** Empty: the gateway has no key for this device. */
  key: Uint8Array;
  auth: KeyAuth;
  installedOn: KeyedListener[];
  timer: TimerHandle;
}

const AO_ALGORITHM = "hmac(sha1)";
const AO_MAC_LENGTH = 12;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

function sameAuth(a: KeyAuth, b: KeyAuth): boolean {
  if (a.kind === "md5" || b.kind === "md5") return a.kind === b.kind;
  return a.sendId === b.sendId && a.recvId === b.recvId && a.algorithm === b.algorithm;
}

export class Md5KeyManager {
  /** Insertion order = least recently refreshed first. */
  private readonly entries = new Map<string, Entry>();
  private readonly asking = new Map<string, Promise<void>>();
  private readonly aoWarned = new Set<string>();
  private readonly maxKeys: number;
  private lastEvictionLogAt = Number.NEGATIVE_INFINITY;
  private lastShedLogAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private readonly counts = {
    requests: 0,
    requestFailures: 0,
    shed: 0,
    installFailures: 0,
    expired: 0,
    replaced: 0,
    evicted: 0,
  };

  constructor(private readonly options: Md5KeyManagerOptions) {
    this.maxKeys = options.maxKeys ?? MAX_DEVICE_KEYS;
  }

  /** A SYN seen on the wire with a TCP-MD5 or TCP-AO option. */
  onSignedSyn(syn: SynPacket): void {
    if (this.closed || !(syn.md5 || syn.ao)) return;
    const deviceIp = syn.source;
    if (syn.ao && !syn.md5 && !this.options.tcpAo) {
      if (!this.aoWarned.has(deviceIp) && this.aoWarned.size < this.maxKeys) {
        this.aoWarned.add(deviceIp);
        this.options.logger.warn(
          "a router offers TCP-AO, which this kernel lacks (Linux 6.7+ with CONFIG_TCP_AO); configure it for TCP-MD5",
          { device_ip: deviceIp },
        );
      }
      return;
    }
    if (
      this.options.isDenied(deviceIp) ||
      this.entries.has(deviceIp) ||
      this.asking.has(deviceIp)
    ) {
      return;
    }
    if (this.asking.size >= (this.options.maxInFlight ?? MAX_QUESTIONS_IN_FLIGHT)) {
      this.counts.shed++;
      const now = this.options.clock.now();
      if (now - this.lastShedLogAt >= 60_000) {
        this.lastShedLogAt = now;
        this.options.logger.warn(
          "too many signed SYNs from new devices at once: some wait for their retransmit",
          { in_flight: this.asking.size, shed_total: this.counts.shed },
        );
      }
      return;
    }
    const auth: KeyAuth =
      syn.ao && !syn.md5
        ? {
            kind: "ao",
            algorithm: AO_ALGORITHM,
            sendId: syn.ao.rnextKeyId,
            recvId: syn.ao.keyId,
            macLength: AO_MAC_LENGTH,
          }
        : { kind: "md5" };
    const tuple: FiveTuple = {
      proto: "BGP",
      deviceIp,
      devicePort: syn.sourcePort,
      proxyIp: syn.destination,
      proxyPort: syn.destinationPort,
    };
    this.counts.requests++;
    this.options.logger.debug("asking the gateway for a signed SYN's key", {
      device_ip: deviceIp,
      auth: auth.kind,
    });
    const asked = this.options
      .ask(tuple)
      .then(
        (response) => {
          this.options.onAnswer(response);
          this.learn(response, auth, deviceIp);
        },
        (err: unknown) => {
          this.counts.requestFailures++;
          this.options.logger.warn(`no key for a signed SYN: ${errorMessage(err)}`, {
            device_ip: deviceIp,
          });
        },
      )
      .finally(() => this.asking.delete(deviceIp));
    this.asking.set(deviceIp, asked);
  }

  /**
   * Apply an answer for a device: install, replace, refresh or remove its key. `auth`
   * defaults to the device's current kind (MD5 for a new one). `expectedIp` is the address
   * asked about, used when the answer does not echo it.
   */
  learn(response: ControlResponse, auth?: KeyAuth, expectedIp?: string): void {
    if (this.closed || response.action === ControlAction.KEEPALIVE) return;
    const deviceIp = normalizeIp(response.deviceIp || expectedIp || "");
    if (!deviceIp) return;
    const current = this.entries.get(deviceIp);
    if (response.action === ControlAction.BLOCK_IP) {
      if (current) this.drop(current, "the device is blocked");
      return;
    }
    this.set(
      deviceIp,
      response.tcpMd5,
      auth ?? current?.auth ?? { kind: "md5" },
      response.ttlSeconds,
    );
  }

  /** An answer the gateway pushed: applied only to devices that already have an entry. */
  refresh(response: ControlResponse): void {
    const deviceIp = normalizeIp(response.deviceIp);
    if (this.entries.has(deviceIp)) this.learn(response);
  }

  /** The gateway's key for this device is installed (not "no key", not unknown). */
  hasKey(deviceIp: string): boolean {
    return (this.entries.get(deviceIp)?.key.byteLength ?? 0) > 0;
  }

  /** Resolves when every pending question has been answered (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.asking.size > 0) await Promise.all([...this.asking.values()]);
  }

  status(): KeyManagerStatus {
    let keys = 0;
    for (const e of this.entries.values()) if (e.key.byteLength > 0) keys++;
    return { keysInstalled: keys, devicesWithoutKey: this.entries.size - keys, ...this.counts };
  }

  /** Cancel the timers; the keys go with the listening sockets when they close. */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) e.timer.cancel();
    this.entries.clear();
  }

  private set(deviceIp: string, key: Uint8Array, auth: KeyAuth, ttlSeconds: number): void {
    const family = deviceIp.includes(":") ? 6 : 4;
    const current = this.entries.get(deviceIp);
    const ttl = ttlSeconds > 0 ? ttlSeconds : ZERO_TTL_KEY_SECONDS;
    if (current && sameBytes(current.key, key) && sameAuth(current.auth, auth)) {
      this.schedule(current, ttl);
      return;
    }
    if (current && current.key.byteLength > 0) {
      if (key.byteLength === 0) {
        this.drop(current, "the gateway has no key for the device any more");
      } else {
        this.counts.replaced++;
        if (!sameAuth(current.auth, auth)) this.uninstall(current);
      }
    }
    if (!current) this.makeRoom();
    const installedOn = key.byteLength > 0 ? this.install(deviceIp, family, key, auth) : [];
    if (key.byteLength > 0 && installedOn.length === 0) {
      // Nothing took the key: no old key may stay behind, and the device's next SYN asks again.
      if (current && this.entries.get(deviceIp) === current)
        this.drop(current, "its replacement failed");
      return;
    }
    if (current && current.key.byteLength > 0 && this.entries.get(deviceIp) === current) {
      // A listener that refused the new key must not keep the old one.
      const stale = current.installedOn.filter((l) => !installedOn.includes(l));
      this.uninstall({ ...current, installedOn: stale });
    }
    const entry: Entry = {
      deviceIp,
      family,
      key: Uint8Array.from(key),
      auth,
      installedOn,
      timer: current?.timer ?? { cancel() {} },
    };
    this.schedule(entry, ttl);
    if (key.byteLength > 0) {
      this.options.logger.info(
        current?.key.byteLength ? "replaced a TCP-MD5 key" : "installed a TCP-MD5 key",
        {
          device_ip: deviceIp,
          auth: auth.kind,
          listeners: installedOn.map((l) => l.label),
          ttl_seconds: ttl,
        },
      );
    } else if (!current) {
      this.options.logger.debug("the gateway has no TCP-MD5 key for this device", {
        device_ip: deviceIp,
        ttl_seconds: ttl,
      });
    }
  }

  /** (Re)start the entry's TTL and make it the most recently refreshed. */
  private schedule(entry: Entry, ttlSeconds: number): void {
    entry.timer.cancel();
    entry.timer = this.options.clock.schedule(ttlSeconds * 1000, () => {
      if (this.entries.get(entry.deviceIp) !== entry) return;
      this.counts.expired++;
      this.drop(entry, "its TTL ran out");
    });
    this.entries.delete(entry.deviceIp);
    this.entries.set(entry.deviceIp, entry);
  }

  private makeRoom(): void {
    while (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.values().next().value;
      if (!oldest) return;
      this.counts.evicted++;
      const now = this.options.clock.now();
      if (now - this.lastEvictionLogAt >= 60_000) {
        this.lastEvictionLogAt = now;
        this.options.logger.warn(
          `TCP-MD5 key table full (${this.maxKeys} devices): dropping the least recently used`,
          { device_ip: oldest.deviceIp, evicted_total: this.counts.evicted },
        );
      }
      this.drop(oldest, "the key table is full", true);
    }
  }

  private install(
    deviceIp: string,
    family: 4 | 6,
    key: Uint8Array,
    auth: KeyAuth,
  ): KeyedListener[] {
    const done: KeyedListener[] = [];
    for (const l of this.options.listeners()) {
      const v4Mapped = family === 4 && l.family === 6 && l.dualStack;
      if (l.family !== family && !v4Mapped) continue;
      try {
        this.options.installer.install(l, deviceIp, key, auth, v4Mapped);
        done.push(l);
      } catch (err) {
        this.counts.installFailures++;
        const hint = /ENOMEM/.test(errorMessage(err))
          ? " (the socket's option memory is full: raise net.core.optmem_max)"
          : "";
        this.options.logger.error(`cannot install the key: ${errorMessage(err)}${hint}`, {
          device_ip: deviceIp,
          listener: l.label,
        });
      }
    }
    return done;
  }

  private uninstall(entry: Entry): void {
    for (const l of entry.installedOn) {
      const v4Mapped = entry.family === 4 && l.family === 6;
      try {
        this.options.installer.remove(l, entry.deviceIp, entry.auth, v4Mapped);
      } catch (err) {
        this.options.logger.error(`cannot remove the key: ${errorMessage(err)}`, {
          device_ip: entry.deviceIp,
          listener: l.label,
        });
      }
    }
    entry.installedOn = [];
  }

  private drop(entry: Entry, why: string, quiet = false): void {
    entry.timer.cancel();
    this.entries.delete(entry.deviceIp);
    if (entry.key.byteLength === 0) return;
    this.uninstall(entry);
    if (!quiet) {
      this.options.logger.info(`removed a TCP-MD5 key: ${why}`, { device_ip: entry.deviceIp });
    }
  }
}
