import { describe, expect, test } from "bun:test";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeNotification } from "../../src/bgp/notification.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import {
  DeviceRegistry,
  type DeviceRuntime,
  deviceState,
} from "../../src/gateway/device-registry.ts";
import { DeviceTracker } from "../../src/gateway/device-tracker.ts";
import { SessionObserver } from "../../src/gateway/session-observer.ts";
import { ManualClock } from "../support/manual-clock.ts";

function setup() {
  const clock = new ManualClock(1_000);
  const reg = new DeviceRegistry(
    [{ name: "edge-r1", id: 1, site: 0, ip: "192.0.2.1", target: { kind: "collector" } }],
    clock.now(),
  );
  const device = reg.all()[0] as DeviceRuntime;
  return { clock, device, tracker: new DeviceTracker(clock) };
}

describe("DeviceTracker", () => {
  test("a second session opening and closing leaves the Established one's state alone", () => {
    const { device, tracker } = setup();
    const bgp = tracker.opened(device);
    bgp.state(true);
    bgp.counts(2, { ipv4: 3, ipv6: 2 });
    const probe = tracker.opened(device);
    expect(device.sessions).toBe(2);
    probe.state(false);
    probe.counts(0, { ipv4: 0, ipv6: 0 });
    probe.closed();
    expect(device.sessions).toBe(1);
    expect(device.sessionsTotal).toBe(2);
    expect(deviceState(device)).toBe("established");
    expect(device.counters).toEqual({ updates: 2, prefixes: { ipv4: 3, ipv6: 2 } });
  });

  test("prefixes sum over Established sessions; leaving Established drops a session's share", () => {
    const { device, tracker } = setup();
    const a = tracker.opened(device);
    const b = tracker.opened(device);
    a.state(true);
    b.state(true);
    a.counts(1, { ipv4: 10, ipv6: 0 });
    b.counts(4, { ipv4: 0, ipv6: 7 });
    expect(device.counters).toEqual({ updates: 5, prefixes: { ipv4: 10, ipv6: 7 } });
    a.state(false);
    expect(device.counters.prefixes).toEqual({ ipv4: 0, ipv6: 7 });
    expect(device.established).toBe(true);
    b.closed();
    expect(device.established).toBe(false);
    expect(deviceState(device)).toBe("connected");
    a.closed();
    a.closed();
    expect(device.sessions).toBe(0);
    expect(deviceState(device)).toBe("idle");
    // Counts from a session that is not Established, or already closed, change nothing.
    a.counts(9, { ipv4: 1, ipv6: 1 });
    expect(device.counters).toEqual({ updates: 5, prefixes: { ipv4: 0, ipv6: 0 } });
  });

  test("updates only ever add the increase of a session's cumulative count", () => {
    const { device, tracker } = setup();
    const s = tracker.opened(device);
    s.state(true);
    s.counts(3, { ipv4: 1, ipv6: 0 });
    s.counts(3, { ipv4: 1, ipv6: 0 });
    s.counts(5, { ipv4: 2, ipv6: 0 });
    expect(device.counters.updates).toBe(5);
  });

  test("lastChange follows the injected clock, on device state changes only", () => {
    const { clock, device, tracker } = setup();
    expect(device.lastChange).toBe(1_000);
    clock.advance(500);
    const s = tracker.opened(device);
    expect(device.lastChange).toBe(1_500);
    clock.advance(500);
    s.state(true);
    expect(device.lastChange).toBe(2_000);
    clock.advance(500);
    s.counts(1, { ipv4: 1, ipv6: 0 });
    expect(device.lastChange).toBe(2_000);
    clock.advance(500);
    s.closed();
    expect(device.lastChange).toBe(3_000);
  });

  test("a forwarded session's observer reports through the session's events", () => {
    const { device, tracker } = setup();
    const events = tracker.opened(device);
    const o = new SessionObserver(events);
    const open = (asn: number, routerId: string) => encodeOpen({ asn, holdTime: 90, routerId });
    o.fromRouter(open(65001, "10.0.0.1"));
    o.fromDaemon(open(64512, "10.0.0.2"));
    o.fromDaemon(encodeKeepalive());
    expect(device.established).toBe(false);
    o.fromRouter(encodeKeepalive());
    expect(device.established).toBe(true);
    o.fromRouter(
      encodeUpdate({ origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri: ["198.51.100.0/24"] }),
    );
    expect(device.counters).toEqual({ updates: 1, prefixes: { ipv4: 1, ipv6: 0 } });
    o.fromDaemon(encodeNotification({ code: 6, subcode: 2, data: new Uint8Array(0) }));
    expect(device.established).toBe(false);
    expect(device.counters).toEqual({ updates: 1, prefixes: { ipv4: 0, ipv6: 0 } });
  });
});
