import { describe, expect, test } from "bun:test";
import type { DeviceConfig, GatewayConfig } from "../../src/config/types.ts";
import {
  deviceKey,
  isEmptyPlan,
  planReload,
  planSummary,
} from "../../src/gateway/config-reload.ts";
import { DeviceRegistry } from "../../src/gateway/device-registry.ts";

function config(devices: DeviceConfig[], overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    listen: { host: "127.0.0.1", port: 0 },
    httpListen: { host: "127.0.0.1", port: 0 },
    insecure: true,
    accounts: [{ email: "a@example.net", tokenSha256: "ab".repeat(32), companyId: 1 }],
    collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
    devices,
    acceptAny: false,
    log: { level: "info", human: true },
    lowerBackgroundThreads: true,
    ...overrides,
  };
}

const collector = { kind: "collector" } as const;
const forward = (port: number, source?: string) =>
  ({
    kind: "forward",
    forward: { host: "192.0.2.9", port },
    ...(source ? { source } : {}),
  }) as const;

function dev(name: string, ip: string, more: Partial<DeviceConfig> = {}): DeviceConfig {
  return { name, id: 1, site: 0, ip, target: collector, ...more };
}

describe("planReload", () => {
  test("the same file plans nothing", () => {
    const a = config([dev("r1", "10.0.0.1"), dev("r2", "10.0.0.2", { md5Key: "k" })]);
    const plan = planReload(a, config([...a.devices]));
    expect(isEmptyPlan(plan)).toBe(true);
    expect(plan.unchanged).toBe(2);
  });

  test("added and removed devices are told apart by (site, address)", () => {
    const before = config([dev("r1", "10.0.0.1"), dev("r2", "10.0.0.2")]);
    const after = config([
      dev("r1", "10.0.0.1"),
      dev("r3", "10.0.0.3"),
      dev("r2b", "10.0.0.2", { site: 4 }),
    ]);
    const plan = planReload(before, after);
    expect(plan.added.map((d) => d.name)).toEqual(["r3", "r2b"]);
    expect(plan.removed.map((d) => d.name)).toEqual(["r2"]);
    expect(plan.unchanged).toBe(1);
    expect(isEmptyPlan(plan)).toBe(false);
  });

  test("an address written differently is the same device", () => {
    const before = config([dev("r6", "2001:db8::1")]);
    const after = config([dev("r6", "2001:0db8:0::1")]);
    expect(deviceKey(before.devices[0] as DeviceConfig)).toBe(
      deviceKey(after.devices[0] as DeviceConfig),
    );
    expect(isEmptyPlan(planReload(before, after))).toBe(true);
  });

  test("target, forward address, forward source and MD5 key changes restart the device", () => {
    const before = config([
      dev("t", "10.0.0.1"),
      dev("f", "10.0.0.2", { target: forward(179) }),
      dev("s", "10.0.0.3", { target: forward(179, "192.0.2.50") }),
      dev("m", "10.0.0.4", { md5Key: "old" }),
      dev("m2", "10.0.0.5"),
    ]);
    const after = config([
      dev("t", "10.0.0.1", { target: forward(179) }),
      dev("f", "10.0.0.2", { target: forward(1179) }),
      dev("s", "10.0.0.3", { target: forward(179, "192.0.2.51") }),
      dev("m", "10.0.0.4", { md5Key: "new" }),
      dev("m2", "10.0.0.5", { md5Key: "added" }),
    ]);
    const plan = planReload(before, after);
    expect(plan.restarted.map((r) => [r.after.name, r.causes])).toEqual([
      ["t", ["target"]],
      ["f", ["forward"]],
      ["s", ["forward"]],
      ["m", ["md5"]],
      ["m2", ["md5"]],
    ]);
    expect(plan.updated).toEqual([]);
  });

  test("a new name or id alone keeps the sessions (updated, not restarted)", () => {
    const before = config([dev("r1", "10.0.0.1", { md5Key: "k", target: forward(179) })]);
    const after = config([
      dev("edge-r1", "10.0.0.1", { id: 9, md5Key: "k", target: forward(179) }),
    ]);
    const plan = planReload(before, after);
    expect(plan.restarted).toEqual([]);
    expect(plan.updated.map((u) => [u.before.name, u.after.name])).toEqual([["r1", "edge-r1"]]);
  });

  test("accounts and collector changes are noticed", () => {
    const before = config([]);
    const plan = planReload(
      before,
      config([], {
        accounts: [{ email: "b@example.net", tokenSha256: "cd".repeat(32), companyId: 1 }],
        collector: { asn: 64513, routerId: "192.0.2.1", holdTime: 90 },
      }),
    );
    expect(plan.accountsChanged).toBe(true);
    expect(plan.collectorChanged).toBe(true);
    expect(planReload(before, config([])).accountsChanged).toBe(false);
  });

  test("the summary names devices and causes, never a key", () => {
    const plan = planReload(
      config([dev("m", "10.0.0.4", { md5Key: "s3cret-key" })]),
      config([dev("m", "10.0.0.4", { md5Key: "an0ther-key" }), dev("n", "10.0.0.5")]),
    );
    const summary = planSummary(plan);
    expect(summary).toMatchObject({ added: "n", restarted: "m(md5)", removed: "" });
    expect(JSON.stringify(summary)).not.toContain("key");
  });
});

describe("DeviceRegistry.reconfigure", () => {
  test("applies a plan: the removed and restarted runtimes are returned, updates keep the runtime", () => {
    const before = config([
      dev("keep", "10.0.0.1"),
      dev("rename", "10.0.0.2"),
      dev("gone", "10.0.0.3"),
      dev("rekey", "10.0.0.4", { md5Key: "a" }),
    ]);
    const after = config([
      dev("keep", "10.0.0.1"),
      dev("renamed", "10.0.0.2", { id: 5 }),
      dev("rekey", "10.0.0.4", { md5Key: "b" }),
      dev("new", "10.0.0.5"),
    ]);
    const reg = new DeviceRegistry(before.devices, 0);
    const renameRuntime = reg.lookup(0, "10.0.0.2");
    const rekeyRuntime = reg.lookup(0, "10.0.0.4");
    const goneRuntime = reg.lookup(0, "10.0.0.3");
    if (renameRuntime) renameRuntime.sessions = 1;
    const ending = reg.reconfigure(planReload(before, after), 1);
    expect(ending).toEqual([goneRuntime, rekeyRuntime].filter((d) => d !== undefined));
    expect(reg.lookup(0, "10.0.0.3")).toBeUndefined();
    expect(reg.lookup(0, "10.0.0.5")?.config.name).toBe("new");
    expect(reg.lookup(0, "10.0.0.2")).toBe(renameRuntime);
    expect(reg.lookup(0, "10.0.0.2")?.config).toMatchObject({ name: "renamed", id: 5 });
    expect(reg.lookup(0, "10.0.0.2")?.sessions).toBe(1);
    const fresh = reg.lookup(0, "10.0.0.4");
    expect(fresh).not.toBe(rekeyRuntime);
    expect(fresh?.config.md5Key).toBe("b");
    expect(reg.all().map((d) => d.config.name)).toEqual(["keep", "renamed", "rekey", "new"]);
  });
});
