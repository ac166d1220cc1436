import { describe, expect, test } from "bun:test";
import { DeviceRegistry, type DeviceRuntime } from "../../src/gateway/device-registry.ts";
import { type SessionControls, SessionTable } from "../../src/gateway/session-table.ts";

const NOOP: SessionControls = { end() {}, restart: () => true };

function twoDevices(): [DeviceRuntime, DeviceRuntime] {
  const reg = new DeviceRegistry([
    { name: "r1", id: 1, site: 0, ip: "10.0.0.1", target: { kind: "collector" } },
    { name: "r2", id: 2, site: 0, ip: "10.0.0.2", target: { kind: "collector" } },
  ]);
  const [a, b] = reg.all();
  if (!a || !b) throw new Error("two devices expected");
  return [a, b];
}

describe("SessionTable: one agent per device", () => {
  test("a second agent is refused while the first relays the device; once logged per pair", () => {
    const [r1, r2] = twoDevices();
    const table = new SessionTable();
    const first = table.claim(r1, "agent-A", "s1", NOOP);
    expect(first.kind).toBe("claimed");
    const refused = table.claim(r1, "agent-B", "s2", NOOP);
    expect(refused).toEqual({ kind: "refused", holder: "agent-A", firstRefusal: true });
    expect(table.claim(r1, "agent-B", "s3", NOOP)).toEqual({
      kind: "refused",
      holder: "agent-A",
      firstRefusal: false,
    });
    expect(table.claim(r1, "agent-C", "s4", NOOP)).toMatchObject({ firstRefusal: true });
    // Another device is unaffected; the same agent may open a second session (collision).
    expect(table.claim(r2, "agent-B", "s5", NOOP).kind).toBe("claimed");
    expect(table.claim(r1, "agent-A", "s6", NOOP).kind).toBe("claimed");
    expect(table.relaying(r1)).toEqual(["agent-A"]);
    expect(table.size).toBe(3);
  });

  test("when the holder's sessions end, the next agent gets the device, and refusals log again", () => {
    const [r1] = twoDevices();
    const table = new SessionTable();
    const a = table.claim(r1, "agent-A", "s1", NOOP);
    table.claim(r1, "agent-B", "s2", NOOP);
    if (a.kind !== "claimed") throw new Error("claimed expected");
    a.claim.release();
    a.claim.release();
    expect(table.size).toBe(0);
    const b = table.claim(r1, "agent-B", "s3", NOOP);
    expect(b.kind).toBe("claimed");
    expect(table.claim(r1, "agent-A", "s4", NOOP)).toEqual({
      kind: "refused",
      holder: "agent-B",
      firstRefusal: true,
    });
  });

  test("endDevice asks every live session of that device to end, with the reason", () => {
    const [r1, r2] = twoDevices();
    const table = new SessionTable();
    const ended: string[] = [];
    table.claim(r1, "agent-A", "s1", {
      end: (why) => ended.push(`s1:${why}`),
      restart: () => true,
    });
    table.claim(r1, "agent-A", "s2", {
      end: (why) => ended.push(`s2:${why}`),
      restart: () => true,
    });
    table.claim(r2, "agent-A", "s3", {
      end: (why) => ended.push(`s3:${why}`),
      restart: () => true,
    });
    expect(table.endDevice(r1, "device removed by a reload")).toBe(2);
    expect(ended).toEqual(["s1:device removed by a reload", "s2:device removed by a reload"]);
    expect(table.endDevice(twoDevices()[0], "x")).toBe(0);
  });
});

describe("SessionTable: drain", () => {
  test("every live session is asked to restart; new claims are refused from then on", () => {
    const [r1, r2] = twoDevices();
    const table = new SessionTable();
    const restarted: string[] = [];
    const controls = (id: string): SessionControls => ({
      end() {},
      restart: (hold) => restarted.push(`${id}:${hold ? "hold" : "drain"}`) > 0,
    });
    table.claim(r1, "agent-A", "s1", controls("s1"));
    table.claim(r2, "agent-B", "s2", controls("s2"));
    expect(table.draining).toBe(false);
    expect(table.drain(1)).toBe(2);
    expect(restarted).toEqual(["s1:drain", "s2:drain"]);
    expect(table.draining).toBe(true);
    expect(table.claim(r1, "agent-A", "s3", NOOP)).toEqual({ kind: "draining" });
  });

  test("restartStreams asks for a held RESTART without draining; counts the ones started", () => {
    const [r1, r2] = twoDevices();
    const table = new SessionTable();
    const asked: string[] = [];
    const controls = (id: string, can: boolean): SessionControls => ({
      end() {},
      restart: (hold) => {
        asked.push(`${id}:${hold ? "hold" : "drain"}`);
        return can;
      },
    });
    table.claim(r1, "agent-A", "s1", controls("s1", true));
    table.claim(r2, "agent-B", "s2", controls("s2", false));
    expect(table.restartStreams()).toBe(1);
    expect(asked).toEqual(["s1:hold", "s2:hold"]);
    expect(table.draining).toBe(false);
    expect(table.restartStreams("s2")).toBe(0);
    expect(asked.at(-1)).toBe("s2:hold");
    expect(table.claim(r1, "agent-A", "s3", NOOP).kind).toBe("claimed");
  });
});
