import { describe, expect, mock, test } from "bun:test";
import { Admission } from "../../src/agent/admission.ts";
import { ControlCache } from "../../src/agent/control-cache.ts";
import type { ControlChannel } from "../../src/agent/control-channel.ts";
import { DenyList } from "../../src/agent/deny-list.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { ControlAction, type ControlResponse, type FiveTuple } from "../../src/proto/messages.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const DENY_MSG = "Deny-listed an INVALID / UNKNOWN device";

const tuple: FiveTuple = {
  proto: "BGP",
  deviceIp: "192.0.2.1",
  devicePort: 40_001,
  proxyIp: "198.51.100.1",
  proxyPort: 179,
};

function answer(t: FiveTuple, overrides: Partial<ControlResponse> = {}): ControlResponse {
  return {
    ...t,
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

/** A control channel whose answers the test scripts per call. */
function setup(script: (t: FiveTuple, call: number) => ControlResponse | Promise<ControlResponse>) {
  const clock = new ManualClock();
  const logs = captureLogs();
  let calls = 0;
  const request = mock(async (t: FiveTuple) => script(t, ++calls));
  const control = { request } as unknown as Pick<ControlChannel, "request">;
  const denyList = new DenyList(() => clock.now());
  const cache = new ControlCache(() => clock.now());
  const admission = new Admission(control, cache, denyList, logs.logger);
  return { clock, logs, request, denyList, cache, admission };
}

describe("Admission: proceed", () => {
  test("a proceed answer with a TTL is cached and reused without asking again", async () => {
    const { admission, request } = setup((t) => answer(t, { ttlSeconds: 60 }));
    const first = await admission.admit(tuple, "s1");
    const second = await admission.admit({ ...tuple, devicePort: 40_002 }, "s2");
    expect(request).toHaveBeenCalledTimes(1);
    expect(first).toMatchObject({ kind: "proceed", cached: false });
    expect(second).toMatchObject({ kind: "proceed", cached: true });
    if (first.kind === "proceed" && second.kind === "proceed") {
      expect(second.response).toBe(first.response);
    }
  });

  test("an uncacheable answer (ttl 0) means asking every time; expiry means asking again", async () => {
    const { admission, request, clock } = setup((t, n) =>
      answer(t, { ttlSeconds: n === 1 ? 0 : 60 }),
    );
    await admission.admit(tuple, "s1");
    await admission.admit(tuple, "s2");
    expect(request).toHaveBeenCalledTimes(2);
    await admission.admit(tuple, "s3");
    expect(request).toHaveBeenCalledTimes(2);
    clock.advance(60_000);
    await admission.admit(tuple, "s4");
    expect(request).toHaveBeenCalledTimes(3);
  });

  test("the cache is per listener: another proxy port asks again", async () => {
    const { admission, request } = setup((t) => answer(t));
    await admission.admit(tuple, "s1");
    await admission.admit({ ...tuple, proxyPort: 1179 }, "s2");
    expect(request).toHaveBeenCalledTimes(2);
  });

  test("forget() drops the device's cached answers", async () => {
    const { admission, request } = setup((t) => answer(t));
    await admission.admit(tuple, "s1");
    admission.forget("192.0.2.1");
    const again = await admission.admit(tuple, "s2");
    expect(request).toHaveBeenCalledTimes(2);
    expect(again).toMatchObject({ kind: "proceed", cached: false });
  });

  test("a control failure reaches the caller and caches nothing", async () => {
    const { admission, request } = setup((_t, n) => {
      if (n === 1) throw new BgpProxyError("transport", "no answer");
      return answer(tuple);
    });
    await expect(admission.admit(tuple, "s1")).rejects.toMatchObject({ kind: "transport" });
    expect(admission.isDenied(tuple.deviceIp)).toBe(false);
    await admission.admit(tuple, "s2");
    expect(request).toHaveBeenCalledTimes(2);
  });
});

describe("Admission: BLOCK_IP", () => {
  test("a block deny-lists the address for 1200 s when ttl is 0, logged once", async () => {
    const { admission, request, logs, clock } = setup((t) =>
      answer(t, { action: ControlAction.BLOCK_IP, ttlSeconds: 0, deviceId: 0 }),
    );
    expect(await admission.admit(tuple, "s1")).toEqual({ kind: "blocked", ttlSeconds: 1200 });
    expect(admission.isDenied("192.0.2.1")).toBe(true);
    const lines = logs.find(DENY_MSG);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "info",
      device_ip: "192.0.2.1",
      ttl_seconds: 1200,
      ttl_counter: 0,
      "peer-addr": "192.0.2.1:40001",
      "local-addr": "198.51.100.1:179",
      sessid: "s1",
    });

    // Same address, another connection: refused without asking, not logged again.
    expect(await admission.admit({ ...tuple, devicePort: 40_002 }, "s2")).toEqual({
      kind: "blocked",
      ttlSeconds: 1200,
    });
    expect(request).toHaveBeenCalledTimes(1);
    expect(logs.find(DENY_MSG)).toHaveLength(1);

    clock.advance(1_200_000);
    expect(admission.isDenied("192.0.2.1")).toBe(false);
    await admission.admit(tuple, "s3");
    expect(request).toHaveBeenCalledTimes(2);
    expect(logs.find(DENY_MSG)).toHaveLength(2);
  });

  test("the block's own TTL is used when set, and IPv6 addresses are bracketed", async () => {
    const v6: FiveTuple = { ...tuple, deviceIp: "2001:db8::1", proxyIp: "2001:db8::ff" };
    const { admission, logs } = setup((t) =>
      answer(t, { action: ControlAction.BLOCK_IP, ttlSeconds: 300 }),
    );
    expect(await admission.admit(v6, "s1")).toEqual({ kind: "blocked", ttlSeconds: 300 });
    expect(logs.find(DENY_MSG)[0]).toMatchObject({
      device_ip: "2001:db8::1",
      ttl_seconds: 300,
      "peer-addr": "[2001:db8::1]:40001",
      "local-addr": "[2001:db8::ff]:179",
    });
  });

  test("a block without a device address in the answer blocks the asking address", async () => {
    const { admission } = setup((t) =>
      answer(t, { action: ControlAction.BLOCK_IP, deviceIp: "", ttlSeconds: 10 }),
    );
    await admission.admit(tuple, "s1");
    expect(admission.isDenied("192.0.2.1")).toBe(true);
  });

  test("a block drops the device's cached proceed answers", async () => {
    const { admission, request, clock } = setup((t) => answer(t));
    await admission.admit(tuple, "s1");
    admission.onPush(answer(tuple, { action: ControlAction.BLOCK_IP, ttlSeconds: 5 }));
    clock.advance(5_000);
    expect(admission.isDenied("192.0.2.1")).toBe(false);
    await admission.admit(tuple, "s2");
    expect(request).toHaveBeenCalledTimes(2);
  });
});

describe("Admission: pushes", () => {
  test("a pushed BLOCK_IP deny-lists the address and is logged once, without peer fields", () => {
    const { admission, logs, denyList } = setup(() => {
      throw new Error("not asked");
    });
    const push = answer(
      { ...tuple, deviceIp: "192.0.2.77" },
      {
        action: ControlAction.BLOCK_IP,
        ttlSeconds: 0,
      },
    );
    admission.onPush(push);
    admission.onPush(push);
    expect(admission.isDenied("192.0.2.77")).toBe(true);
    expect(denyList.ttlOf("192.0.2.77")).toBe(1200);
    const lines = logs.find(DENY_MSG);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ device_ip: "192.0.2.77", ttl_seconds: 1200 });
    expect(lines[0]).not.toHaveProperty("peer-addr");
    expect(lines[0]).not.toHaveProperty("sessid");
  });

  test("a pushed proceed answer is cached for the next connection", async () => {
    const { admission, request } = setup((t) => answer(t));
    admission.onPush(answer(tuple, { deviceName: "pushed" }));
    const d = await admission.admit(tuple, "s1");
    expect(request).not.toHaveBeenCalled();
    expect(d).toMatchObject({ kind: "proceed", cached: true, response: { deviceName: "pushed" } });
  });
});

describe("Admission: concurrent connections from one address", () => {
  test("share one ControlRequest: a burst from an unknown address asks once", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { admission, request, logs } = setup(async (t) => {
      await gate;
      return answer(t, { action: ControlAction.BLOCK_IP, ttlSeconds: 0 });
    });
    const burst = Array.from({ length: 50 }, (_, i) =>
      admission.admit({ ...tuple, devicePort: 40_000 + i }, `s${i}`),
    );
    release();
    const decisions = await Promise.all(burst);
    expect(request).toHaveBeenCalledTimes(1);
    expect(decisions.every((d) => d.kind === "blocked")).toBe(true);
    expect(logs.find(DENY_MSG).length).toBeLessThanOrEqual(1);
  });

  test("a proceed answer is shared only as far as its TTL counter allows", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { admission, request } = setup(async (t) => {
      await gate;
      return answer(t, { ttlSeconds: 60, ttlCounter: 3 });
    });
    const burst = Array.from({ length: 5 }, (_, i) =>
      admission.admit({ ...tuple, devicePort: 40_000 + i }, `s${i}`),
    );
    release();
    const decisions = await Promise.all(burst);
    expect(decisions.every((d) => d.kind === "proceed")).toBe(true);
    // One answer used by the asker and, through the cache, by two more; then one more ask.
    expect(request).toHaveBeenCalledTimes(2);
  });
});
