import { describe, expect, test } from "bun:test";
import type { DeviceConfig } from "../../src/config/types.ts";
import { DeviceRegistry, deviceState } from "../../src/gateway/device-registry.ts";

function device(name: string, id: number, site: number, ip: string): DeviceConfig {
  return { name, id, site, ip, target: { kind: "collector" } };
}

describe("DeviceRegistry.lookup", () => {
  test("an exact site match wins over a site-0 device with the same address", () => {
    const reg = new DeviceRegistry([
      device("any", 1, 0, "192.0.2.1"),
      device("site3", 2, 3, "192.0.2.1"),
    ]);
    expect(reg.lookup(3, "192.0.2.1")?.config.name).toBe("site3");
    expect(reg.lookup(0, "192.0.2.1")?.config.name).toBe("any");
    expect(reg.lookup(4, "192.0.2.1")?.config.name).toBe("any");
  });

  test("a site-0 device serves an agent of any site", () => {
    const reg = new DeviceRegistry([device("any", 1, 0, "192.0.2.1")]);
    for (const site of [0, 1, 77]) expect(reg.lookup(site, "192.0.2.1")?.config.id).toBe(1);
    expect(reg.lookup(1, "192.0.2.2")).toBeUndefined();
  });

  test("a device of another (non-zero) site is not found", () => {
    const reg = new DeviceRegistry([device("site5", 1, 5, "192.0.2.1")]);
    expect(reg.lookup(6, "192.0.2.1")).toBeUndefined();
    expect(reg.lookup(5, "192.0.2.1")?.config.id).toBe(1);
  });

  test("an agent of site 0 finds the one device with that address, whatever its site", () => {
    const reg = new DeviceRegistry([
      device("a", 1, 5, "192.0.2.1"),
      device("b", 2, 6, "192.0.2.2"),
    ]);
    expect(reg.lookup(0, "192.0.2.1")?.config.name).toBe("a");
    expect(reg.lookup(0, "192.0.2.2")?.config.name).toBe("b");
  });

  test("ambiguity finds nothing", () => {
    const twoSites = new DeviceRegistry([
      device("a", 1, 5, "192.0.2.1"),
      device("b", 2, 6, "192.0.2.1"),
    ]);
    expect(twoSites.lookup(0, "192.0.2.1")).toBeUndefined();
    expect(twoSites.lookup(7, "192.0.2.1")).toBeUndefined();
    expect(twoSites.lookup(6, "192.0.2.1")?.config.name).toBe("b");

    const twoAnySite = new DeviceRegistry([
      device("a", 1, 0, "192.0.2.1"),
      device("b", 2, 0, "192.0.2.1"),
    ]);
    expect(twoAnySite.lookup(3, "192.0.2.1")).toBeUndefined();
  });

  test("addresses match however they are spelled", () => {
    const reg = new DeviceRegistry([
      device("v4", 1, 0, "10.0.0.1"),
      device("mapped", 2, 0, "::ffff:10.0.0.2"),
      device("v6", 3, 0, "2001:DB8:0:0:0:0:0:1"),
    ]);
    expect(reg.lookup(1, "::ffff:10.0.0.1")?.config.name).toBe("v4");
    expect(reg.lookup(1, "10.0.0.2")?.config.name).toBe("mapped");
    expect(reg.lookup(1, "2001:db8::1")?.config.name).toBe("v6");
    expect(reg.lookup(1, "2001:0DB8::0001")?.config.name).toBe("v6");
    expect(reg.all().map((d) => d.config.ip)).toEqual(["10.0.0.1", "10.0.0.2", "2001:db8::1"]);
  });

  test("add() registers a device (normalised) that lookups then find; nextFreeId follows", () => {
    const reg = new DeviceRegistry([device("a", 4, 0, "192.0.2.1")], 1_000);
    expect(reg.nextFreeId).toBe(5);
    const added = reg.add(device("b", reg.nextFreeId, 0, "::FFFF:192.0.2.9"), 2_000);
    expect(added.config.ip).toBe("192.0.2.9");
    expect(added).toMatchObject({ sessions: 0, sessionsTotal: 0, established: false });
    expect(added.lastChange).toBe(2_000);
    expect(reg.all()[0]?.lastChange).toBe(1_000);
    expect(reg.lookup(9, "192.0.2.9")).toBe(added);
    expect(reg.nextFreeId).toBe(6);
    expect(new DeviceRegistry([]).nextFreeId).toBe(1);
  });
});

describe("deviceState", () => {
  test("idle without sessions, connected with one, established when BGP is up", () => {
    const [d] = new DeviceRegistry([device("a", 1, 0, "192.0.2.1")]).all();
    if (!d) throw new Error("no device");
    expect(deviceState(d)).toBe("idle");
    d.sessions = 1;
    expect(deviceState(d)).toBe("connected");
    d.established = true;
    expect(deviceState(d)).toBe("established");
    d.sessions = 0;
    expect(deviceState(d)).toBe("idle");
  });
});
