import { describe, expect, test } from "bun:test";
import {
  findSession,
  renderAdminStatus,
  renderHealth,
  renderSession,
  renderSessions,
} from "../../src/agent/status/agent-status-view.ts";
import { rfc3339Nano } from "../../src/core/timestamp.ts";
import {
  CONFIG_VIEW,
  CONTROL,
  golden,
  NOW,
  SESSIONS,
  session,
  status,
} from "../fixtures/status/snapshot.ts";

function matchesGolden(name: string, value: unknown): void {
  const { expected, actual } = golden(name, value);
  expect(actual).toEqual(expected);
}

describe("/hc", () => {
  test("timestamp in RFC 3339 with nanoseconds, and the status", () => {
    matchesGolden("hc-ok.json", renderHealth({ status: "ok", timestamp: NOW, problems: [] }));
    const failing = renderHealth({
      status: "failing",
      timestamp: NOW + 0.5,
      problems: [{ check: "control_stream", error: "down" }],
    });
    expect(failing).toEqual({ timestamp: "2023-07-25T17:01:25.409500000Z", status: "failing" });
    expect(Object.keys(failing)).toEqual(["timestamp", "status"]);
  });
});

describe("/admin/status", () => {
  test("the reference's field names and shapes", () => {
    const view = renderAdminStatus(status(), CONFIG_VIEW, NOW);
    matchesGolden("admin-status.json", view);
    expect(Object.keys(view)).toEqual([
      "InstanceID",
      "ControlStream",
      "Heartbeats",
      "ActiveSessions",
      "Config",
      "TCPMD5", // ours, after the reference's fields, only with MD5 support on
    ]);
    expect(Object.keys(view.ControlStream)).toEqual([
      "Connected",
      "Since",
      "DurationMs",
      "MessagesRx",
    ]);
    expect(Object.keys(view.Heartbeats)).toEqual([
      "LastTx",
      "MsSinceLastTx",
      "LastTxRTTMs",
      "LastRx",
      "MsSinceLastRx",
    ]);
    expect(Object.keys(view.Config)).toEqual([
      "Listeners",
      "MD5Enabled",
      "MD5Interface",
      "ProxyTarget",
      "APIEmail",
      "SiteID",
    ]);
  });

  test("durations follow the clock; the agent's MD5 state wins over the config", () => {
    const view = renderAdminStatus(status(), CONFIG_VIEW, NOW + 1_000);
    expect(view.ControlStream.DurationMs).toBe(NOW + 1_000 - CONTROL.since);
    expect(view.Heartbeats.MsSinceLastRx).toBe(NOW + 1_000 - (CONTROL.lastRx ?? 0));
    expect(view.Config.MD5Interface).toBe("eth1");
    const noMd5 = renderAdminStatus(
      status({
        md5: {
          enabled: false,
          interface: "any",
          keysInstalled: 0,
          tcpAo: "not probed",
          kernelCounters: null,
        },
      }),
      CONFIG_VIEW,
      NOW,
    );
    expect(noMd5.Config.MD5Interface).toBe("any");
  });

  test("before any heartbeat: times and ages are null, and the stream is shown down", () => {
    const down = renderAdminStatus(
      status({
        control: {
          state: "backoff",
          connected: false,
          since: NOW - 5_000,
          messagesRx: 0,
          reconnects: 1,
          lastError: "connection refused",
        },
        sessions: [],
      }),
      CONFIG_VIEW,
      NOW,
    );
    matchesGolden("admin-status-down.json", down);
    expect(down.Heartbeats).toEqual({
      LastTx: null,
      MsSinceLastTx: null,
      LastTxRTTMs: null,
      LastRx: null,
      MsSinceLastRx: null,
    });
  });

  test("the token is never part of the view", () => {
    const text = JSON.stringify(renderAdminStatus(status(), CONFIG_VIEW, NOW));
    expect(text).not.toMatch(/token/i);
    expect(text).toContain("ops@example.net");
  });
});

describe("/admin/sessions", () => {
  test("NumSessions and one summary per session", () => {
    matchesGolden("sessions.json", renderSessions(SESSIONS, NOW));
    expect(renderSessions([], NOW)).toEqual({ NumSessions: 0, Sessions: [] });
  });
});

describe("/admin/sessions/<ip>", () => {
  test("details with the gateway's response headers, secrets masked", () => {
    const view = renderSession(session(), NOW);
    matchesGolden("session.json", view);
    expect(JSON.stringify(view)).not.toContain("must-never-show");
  });

  test("look-up by address, IPv6 any spelling, or address and port", () => {
    const found = (key: string) => {
      const r = findSession(SESSIONS, key);
      return r.kind === "found" ? r.session.sessionId : r.kind;
    };
    expect(found("10.250.15.2")).toBe("abc9a042-61b1-4114-8f65-6b4db10d9121");
    expect(found("10.250.15.2:44507")).toBe("abc9a042-61b1-4114-8f65-6b4db10d9121");
    expect(found("10.250.15.2:1")).toBe("none");
    expect(found("2001:DB8:0::7")).toBe("904e3b00-d6c5-4b2c-b40a-67b0b4f128a8");
    expect(found("[2001:db8::7]:49285")).toBe("904e3b00-d6c5-4b2c-b40a-67b0b4f128a8");
    expect(found("::ffff:10.250.15.2")).toBe("abc9a042-61b1-4114-8f65-6b4db10d9121");
    expect(found("10.9.9.9")).toBe("none");
    expect(found("not-an-ip")).toBe("invalid");
    expect(found("")).toBe("invalid");
  });

  test("several sessions from one device: the newest", () => {
    const older = session({ sessionId: "old", connectedSince: NOW - 10_000 });
    const newer = session({ sessionId: "new", connectedSince: NOW - 10 });
    const r = findSession([newer, older], "10.250.15.2");
    expect(r.kind === "found" && r.session.sessionId).toBe("new");
  });
});

describe("timestamps", () => {
  test("nine fractional digits, sub-millisecond part kept", () => {
    expect(rfc3339Nano(Date.parse("2023-07-25T17:01:25.409Z"))).toBe(
      "2023-07-25T17:01:25.409000000Z",
    );
    expect(rfc3339Nano(Date.parse("2023-07-25T17:01:25.409Z") + 0.25)).toBe(
      "2023-07-25T17:01:25.409250000Z",
    );
    expect(rfc3339Nano(0)).toBe("1970-01-01T00:00:00.000000000Z");
  });
});
