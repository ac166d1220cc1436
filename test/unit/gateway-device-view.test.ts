import { describe, expect, test } from "bun:test";
import type { DeviceConfig } from "../../src/config/types.ts";
import { DeviceRegistry } from "../../src/gateway/device-registry.ts";
import { renderDevices } from "../../src/gateway/device-view.ts";

const configs: DeviceConfig[] = [
  {
    name: "edge-r1",
    id: 1,
    site: 3,
    ip: "::ffff:192.0.2.1",
    md5Key: "md5-very-secret",
    target: { kind: "forward", forward: { host: "127.0.0.1", port: 1179 } },
  },
  { name: "edge-r2", id: 2, site: 0, ip: "2001:db8::2", target: { kind: "collector" } },
];

function registry(list: DeviceConfig[] = configs): DeviceRegistry {
  const reg = new DeviceRegistry(list);
  const [r1, r2] = reg.all();
  if (!r1 || !r2) return reg;
  r1.sessions = 1;
  r1.sessionsTotal = 4;
  r1.established = true;
  r1.counters.updates = 321;
  r1.counters.prefixes.ipv4 = 1000;
  r1.counters.prefixes.ipv6 = 20;
  r2.sessionsTotal = 2;
  return reg;
}

describe("renderDevices", () => {
  test("one object per device with the documented fields", () => {
    expect(renderDevices(registry().all())).toEqual([
      {
        name: "edge-r1",
        id: 1,
        ip: "192.0.2.1",
        site: 3,
        target: "forward 127.0.0.1:1179",
        state: "established",
        sessions: 1,
        sessions_total: 4,
        updates: 321,
        prefixes: { ipv4: 1000, ipv6: 20 },
        md5: true,
      },
      {
        name: "edge-r2",
        id: 2,
        ip: "2001:db8::2",
        site: 0,
        target: "collector",
        state: "idle",
        sessions: 0,
        sessions_total: 2,
        updates: 0,
        prefixes: { ipv4: 0, ipv6: 0 },
        md5: false,
      },
    ]);
    expect(renderDevices([])).toEqual([]);
  });

  test("the MD5 key never appears, only that there is one", () => {
    const view = renderDevices(registry().all());
    const text = JSON.stringify(view);
    expect(text).not.toContain("md5-very-secret");
    expect(text).not.toContain("md5Key");
    expect(view.map((v) => v.md5)).toEqual([true, false]);
  });

  test("the view is a snapshot: later counter changes do not alter it", () => {
    const reg = registry();
    const [view] = renderDevices(reg.all());
    const r1 = reg.all()[0];
    if (r1) r1.counters.prefixes.ipv4 = 5;
    expect(view?.prefixes.ipv4).toBe(1000);
  });

  test("an IPv6 forward target is rendered with brackets, so its port is unambiguous", () => {
    const [view] = renderDevices(
      new DeviceRegistry([
        {
          name: "v6",
          id: 1,
          site: 0,
          ip: "2001:db8::9",
          target: { kind: "forward", forward: { host: "2001:db8::2", port: 179 } },
        },
      ]).all(),
    );
    expect(view?.target).toBe("forward [2001:db8::2]:179");
  });
});
