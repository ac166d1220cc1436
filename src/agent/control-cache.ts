import type { ControlResponse } from "../proto/messages.ts";

/**
 * ControlResponses the agent may reuse: each for `ttl_seconds`, at most `ttl_counter`
 * times (0 = no limit); `ttl_seconds` 0 means the answer is not cached at all. Keyed by
 * device address and the agent's local address and port: the router's source port changes
 * with every connection. Bounded: the oldest entry goes when the cache is full.
 */
export const CONTROL_CACHE_MAX_ENTRIES = 16_384;

interface Entry {
  response: ControlResponse;
  expiresAt: number;
  usesLeft: number;
}

export function controlCacheKey(deviceIp: string, proxyIp: string, proxyPort: number): string {
  return `${deviceIp}|${proxyIp}|${proxyPort}`;
}

export class ControlCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number,
    private readonly maxEntries = CONTROL_CACHE_MAX_ENTRIES,
  ) {}

  /** Remember `response` for its own 5-tuple, when its TTL allows caching. */
  put(response: ControlResponse): void {
    if (response.ttlSeconds <= 0) return;
    const key = controlCacheKey(response.deviceIp, response.proxyIp, response.proxyPort);
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, {
      response,
      expiresAt: this.now() + response.ttlSeconds * 1000,
      usesLeft: response.ttlCounter > 0 ? response.ttlCounter : Number.POSITIVE_INFINITY,
    });
  }

  /** A cached answer for this connection, consuming one use; undefined when none is valid. */
  take(deviceIp: string, proxyIp: string, proxyPort: number): ControlResponse | undefined {
    const key = controlCacheKey(deviceIp, proxyIp, proxyPort);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now() || entry.usesLeft <= 0) {
      this.entries.delete(key);
      return undefined;
    }
    entry.usesLeft--;
    if (entry.usesLeft <= 0) this.entries.delete(key);
    return entry.response;
  }

  /** Forget every answer for a device (after a KILL or a block). */
  dropDevice(deviceIp: string): void {
    for (const [key, entry] of this.entries) {
      if (entry.response.deviceIp === deviceIp) this.entries.delete(key);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
