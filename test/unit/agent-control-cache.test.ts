import { describe, expect, test } from "bun:test";
import { ControlCache, controlCacheKey } from "../../src/agent/control-cache.ts";
import { ControlAction, type ControlResponse } from "../../src/proto/messages.ts";
import { ManualClock } from "../support/manual-clock.ts";

function response(overrides: Partial<ControlResponse> = {}): ControlResponse {
  return {
    proto: "BGP",
    deviceIp: "192.0.2.1",
    devicePort: 40_001,
    proxyIp: "198.51.100.1",
    proxyPort: 179,
    ttlSeconds: 60,
    ttlCounter: 0,
    action: ControlAction.UNSPECIFIED,
    metadata: [],
    companyId: 1,
    deviceId: 7,
    deviceName: "r1",
    tcpMd5: new Uint8Array(0),
    ...overrides,
  };
}

function setup(max?: number): { clock: ManualClock; cache: ControlCache } {
  const clock = new ManualClock();
  return { clock, cache: new ControlCache(() => clock.now(), max) };
}

describe("ControlCache", () => {
  test("an answer is reused for its device and listener until its TTL runs out", () => {
    const { clock, cache } = setup();
    const r = response({ ttlSeconds: 60 });
    cache.put(r);
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBe(r);
    clock.advance(59_999);
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBe(r);
    clock.advance(1);
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test("ttl_seconds 0 is not cached", () => {
    const { cache } = setup();
    cache.put(response({ ttlSeconds: 0, ttlCounter: 5 }));
    expect(cache.size).toBe(0);
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeUndefined();
  });

  test("ttl_counter N allows exactly N takes", () => {
    const { cache } = setup();
    cache.put(response({ ttlCounter: 3 }));
    const takes = Array.from({ length: 5 }, () => cache.take("192.0.2.1", "198.51.100.1", 179));
    expect(takes.map((t) => t !== undefined)).toEqual([true, true, true, false, false]);
    expect(cache.size).toBe(0);

    cache.put(response({ ttlCounter: 1 }));
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeDefined();
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeUndefined();
  });

  test("ttl_counter 0 means no limit on reuse (only the TTL)", () => {
    const { cache } = setup();
    cache.put(response({ ttlCounter: 0 }));
    for (let i = 0; i < 1_000; i++) {
      expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeDefined();
    }
    expect(cache.size).toBe(1);
  });

  test("the key is device address + listener address and port, not the router's port", () => {
    const { cache } = setup();
    expect(controlCacheKey("192.0.2.1", "198.51.100.1", 179)).not.toBe(
      controlCacheKey("192.0.2.1", "198.51.100.1", 1179),
    );
    cache.put(response({ devicePort: 40_001 }));
    expect(cache.take("192.0.2.1", "198.51.100.1", 1179)).toBeUndefined();
    expect(cache.take("192.0.2.1", "198.51.100.2", 179)).toBeUndefined();
    expect(cache.take("192.0.2.2", "198.51.100.1", 179)).toBeUndefined();
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)?.devicePort).toBe(40_001);
  });

  test("putting the same key again replaces the answer and restarts its TTL and count", () => {
    const { clock, cache } = setup();
    cache.put(response({ ttlSeconds: 10, ttlCounter: 1, deviceName: "old" }));
    clock.advance(9_000);
    cache.put(response({ ttlSeconds: 10, ttlCounter: 2, deviceName: "new" }));
    expect(cache.size).toBe(1);
    clock.advance(9_000);
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)?.deviceName).toBe("new");
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)?.deviceName).toBe("new");
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeUndefined();
  });

  test("dropDevice() forgets every listener's answer for that device only", () => {
    const { cache } = setup();
    cache.put(response({ proxyPort: 179 }));
    cache.put(response({ proxyPort: 1179 }));
    cache.put(response({ deviceIp: "192.0.2.2" }));
    expect(cache.size).toBe(3);
    cache.dropDevice("192.0.2.1");
    expect(cache.size).toBe(1);
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeUndefined();
    expect(cache.take("192.0.2.1", "198.51.100.1", 1179)).toBeUndefined();
    expect(cache.take("192.0.2.2", "198.51.100.1", 179)).toBeDefined();
  });

  test("a full cache evicts the oldest entry; a re-put counts as new", () => {
    const { cache } = setup(2);
    cache.put(response({ deviceIp: "192.0.2.1" }));
    cache.put(response({ deviceIp: "192.0.2.2" }));
    cache.put(response({ deviceIp: "192.0.2.1" })); // refreshed: .2 is now the oldest
    cache.put(response({ deviceIp: "192.0.2.3" }));
    expect(cache.size).toBe(2);
    expect(cache.take("192.0.2.2", "198.51.100.1", 179)).toBeUndefined();
    expect(cache.take("192.0.2.1", "198.51.100.1", 179)).toBeDefined();
    expect(cache.take("192.0.2.3", "198.51.100.1", 179)).toBeDefined();
    for (let i = 0; i < 50; i++) cache.put(response({ deviceIp: `10.0.0.${i}` }));
    expect(cache.size).toBe(2);
    expect(cache.take("10.0.0.49", "198.51.100.1", 179)).toBeDefined();
    expect(cache.take("10.0.0.48", "198.51.100.1", 179)).toBeDefined();
  });
});
