import { describe, expect, test } from "bun:test";
import { ControlCache } from "../../src/agent/control-cache.ts";
import type { ControlChannel } from "../../src/agent/control-channel.ts";
import { DenyList } from "../../src/agent/deny-list.ts";
import { Md5Admission, type SignatureGate } from "../../src/agent/md5/md5-admission.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { ControlAction, type ControlResponse, type FiveTuple } from "../../src/proto/messages.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const tuple: FiveTuple = {
  proto: "BGP",
  deviceIp: "10.255.1.1",
  devicePort: 40_001,
  proxyIp: "10.255.1.2",
  proxyPort: 179,
};

function answer(over: Partial<ControlResponse> = {}): ControlResponse {
  return {
    ...tuple,
    ttlSeconds: 60,
    ttlCounter: 0,
    action: ControlAction.UNSPECIFIED,
    metadata: [],
    companyId: 1,
    deviceId: 7,
    deviceName: "r1",
    tcpMd5: new TextEncoder().encode("secret"),
    ...over,
  };
}

function setup(response: ControlResponse, signed: boolean | (() => boolean)) {
  const clock = new ManualClock();
  const learned: ControlResponse[] = [];
  const refreshed: ControlResponse[] = [];
  const gate: SignatureGate = {
    learn: (r) => learned.push(r),
    refresh: (r) => refreshed.push(r),
    wasSigned: () => (typeof signed === "function" ? signed() : signed),
  };
  const control = { request: async () => response } as unknown as Pick<ControlChannel, "request">;
  const denyList = new DenyList(() => clock.now());
  const admission = new Md5Admission(
    control,
    new ControlCache(() => clock.now()),
    denyList,
    captureLogs().logger,
    gate,
  );
  return { admission, learned, refreshed, denyList };
}

describe("Md5Admission", () => {
  test("a signed connection from a device with a key proceeds; the answer feeds the key table", async () => {
    const s = setup(answer(), true);
    expect(await s.admission.admit(tuple, "s1")).toMatchObject({ kind: "proceed" });
    expect(s.learned).toHaveLength(1);
  });

  test("an unsigned connection from a device with a key is refused, and the key installed", async () => {
    const s = setup(answer(), false);
    const err = await s.admission.admit(tuple, "s1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BgpProxyError);
    expect((err as BgpProxyError).kind).toBe("blocked");
    expect((err as Error).message).toContain("not signed");
    expect((err as Error).message).not.toContain("secret");
    expect(s.learned).toHaveLength(1);
  });

  test("a cached answer is not learned again (its key keeps the TTL it was given)", async () => {
    const s = setup(answer({ ttlSeconds: 60 }), true);
    await s.admission.admit(tuple, "s1");
    const second = await s.admission.admit({ ...tuple, devicePort: 40_002 }, "s2");
    expect(second).toMatchObject({ kind: "proceed", cached: true });
    expect(s.learned).toHaveLength(1);
  });

  test("an unsigned connection is refused on a cached answer too", async () => {
    let signed = true;
    const s = setup(answer({ ttlSeconds: 60 }), () => signed);
    await s.admission.admit(tuple, "s1");
    signed = false;
    await expect(s.admission.admit({ ...tuple, devicePort: 40_002 }, "s2")).rejects.toThrow(
      /not signed/,
    );
  });

  test("a device without a key may connect unsigned", async () => {
    const s = setup(answer({ tcpMd5: new Uint8Array(0) }), false);
    expect(await s.admission.admit(tuple, "s1")).toMatchObject({ kind: "proceed" });
  });

  test("BLOCK_IP stays a block (deny-listed), never reaching the key table", async () => {
    const s = setup(answer({ action: ControlAction.BLOCK_IP, ttlSeconds: 1200 }), false);
    expect(await s.admission.admit(tuple, "s1")).toMatchObject({ kind: "blocked" });
    expect(s.denyList.isBlocked(tuple.deviceIp)).toBe(true);
    expect(s.learned).toHaveLength(0);
  });

  test("pushed answers go to admission and to the key table", () => {
    const s = setup(answer(), true);
    s.admission.onPush(answer({ action: ControlAction.BLOCK_IP }));
    expect(s.denyList.isBlocked(tuple.deviceIp)).toBe(true);
    expect(s.refreshed).toHaveLength(1);
  });
});
