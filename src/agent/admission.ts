import { hostPort } from "../core/address.ts";
import type { Logger } from "../core/logger.ts";
import { ControlAction, type ControlResponse, type FiveTuple } from "../proto/messages.ts";
import { type ControlCache, controlCacheKey } from "./control-cache.ts";
import type { ControlChannel } from "./control-channel.ts";
import type { DenyList } from "./deny-list.ts";

/**
 * Decides whether a router connection may proceed: refused at once while its address is
 * deny-listed, else answered from the ControlResponse cache or by asking the gateway.
 * A BLOCK_IP answer (asked for or pushed) deny-lists the address for its TTL and is
 * logged once per block. Concurrent connections from one address wait for one ask rather
 * than each sending its own (a burst from an unknown router would otherwise send one
 * ControlRequest, and cause one gateway WARN, per connection).
 */
export type AdmissionDecision =
  | { kind: "proceed"; response: ControlResponse; cached: boolean }
  | { kind: "blocked"; ttlSeconds: number };

export class Admission {
  /** Asks in flight, by the cache's key: concurrent connections from one address share one. */
  private readonly asking = new Map<string, Promise<AdmissionDecision>>();

  constructor(
    private readonly control: Pick<ControlChannel, "request">,
    private readonly cache: ControlCache,
    private readonly denyList: DenyList,
    private readonly logger: Logger,
  ) {}

  isDenied(deviceIp: string): boolean {
    return this.denyList.isBlocked(deviceIp);
  }

  async admit(tuple: FiveTuple, sessionId: string): Promise<AdmissionDecision> {
    const key = controlCacheKey(tuple.deviceIp, tuple.proxyIp, tuple.proxyPort);
    // Each pass either decides or waits for an ask that ends (answered or timed out).
    for (;;) {
      if (this.denyList.isBlocked(tuple.deviceIp)) {
        return { kind: "blocked", ttlSeconds: this.denyList.ttlOf(tuple.deviceIp) ?? 0 };
      }
      const cached = this.cache.take(tuple.deviceIp, tuple.proxyIp, tuple.proxyPort);
      if (cached) return { kind: "proceed", response: cached, cached: true };
      const asked = this.asking.get(key);
      if (!asked) break;
      const shared = await asked.catch(() => undefined);
      // A refusal holds for every connection from the address; a go-ahead only as far as
      // its TTL and counter allow (through the cache, on the next pass).
      if (shared?.kind === "blocked") return shared;
    }
    const decision = this.control
      .request(tuple)
      .then((response) => this.apply(response, sessionId, tuple));
    this.asking.set(key, decision);
    try {
      return await decision;
    } finally {
      if (this.asking.get(key) === decision) this.asking.delete(key);
    }
  }

  /** Answers the gateway sent without being asked. */
  onPush(response: ControlResponse): void {
    this.apply(response);
  }

  /** A KILL for a device: its cached answers are no longer good. */
  forget(deviceIp: string): void {
    this.cache.dropDevice(deviceIp);
  }

  private apply(
    response: ControlResponse,
    sessionId?: string,
    tuple?: FiveTuple,
  ): AdmissionDecision {
    if (response.action === ControlAction.BLOCK_IP) {
      const deviceIp = response.deviceIp || tuple?.deviceIp || "";
      const newBlock = this.denyList.block(deviceIp, response.ttlSeconds);
      const ttlSeconds = this.denyList.ttlOf(deviceIp) ?? response.ttlSeconds;
      this.cache.dropDevice(deviceIp);
      if (newBlock) {
        this.logger.info("Deny-listed an INVALID / UNKNOWN device", {
          device_ip: deviceIp,
          ttl_seconds: ttlSeconds,
          ttl_counter: response.ttlCounter,
          ...(tuple
            ? {
                "peer-addr": hostPort(tuple.deviceIp, tuple.devicePort),
                "local-addr": hostPort(tuple.proxyIp, tuple.proxyPort),
              }
            : {}),
          // The reference names the session `sessid` on this line (and `session-id` elsewhere).
          ...(sessionId ? { sessid: sessionId } : {}),
        });
      }
      return { kind: "blocked", ttlSeconds };
    }
    this.cache.put(response);
    return { kind: "proceed", response, cached: false };
  }
}
