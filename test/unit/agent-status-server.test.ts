import { describe, expect, test } from "bun:test";
import type { HealthStatus } from "../../src/agent/status/agent-health.ts";
import { statusResponse } from "../../src/agent/status-server.ts";
import { NOW, snapshot } from "../fixtures/status/snapshot.ts";

function get(path: string, health: HealthStatus = "ok", method = "GET"): Response {
  return statusResponse(new Request(`http://127.0.0.1:20920${path}`, { method }), () =>
    snapshot({ health: { status: health, timestamp: NOW, problems: [] } }),
  );
}

describe("agent status server routes", () => {
  test("/hc: 200 only for ok, 503 for every other status", async () => {
    const statuses: HealthStatus[] = ["ok", "initializing", "failing", "timeout", "old_result"];
    for (const s of statuses) {
      const res = get("/hc", s);
      expect(res.status).toBe(s === "ok" ? 200 : 503);
      expect(await res.json()).toEqual({ timestamp: "2023-07-25T17:01:25.409000000Z", status: s });
    }
  });

  test("?pretty indents, otherwise one line", async () => {
    expect(await get("/admin/status").text()).not.toContain("\n  ");
    const pretty = await get("/admin/status?pretty").text();
    expect(pretty).toContain('\n  "InstanceID": "9ef12a66-47ff-45b5-b56b-23a76941c655"');
    expect(get("/admin/status").headers.get("content-type")).toBe("application/json");
  });

  test("sessions: list, one by address (URL-encoded IPv6 too), 404 and 400 as JSON", async () => {
    expect(((await get("/admin/sessions").json()) as { NumSessions: number }).NumSessions).toBe(2);
    expect(((await get("/admin/sessions/").json()) as { NumSessions: number }).NumSessions).toBe(2);
    const one = get("/admin/sessions/10.250.15.2");
    expect(one.status).toBe(200);
    expect(((await one.json()) as { Peer: string }).Peer).toBe("10.250.15.2:44507");
    const v6 = get(`/admin/sessions/${encodeURIComponent("[2001:db8::7]:49285")}`);
    expect(((await v6.json()) as { Peer: string }).Peer).toBe("[2001:db8::7]:49285");
    const missing = get("/admin/sessions/192.0.2.99");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "no session for device 192.0.2.99" });
    const invalid = get("/admin/sessions/router-1");
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({ error: 'not an IP address: "router-1"' });
  });

  test("/metrics in the Prometheus text format; unknown paths and methods", async () => {
    const m = get("/metrics");
    expect(m.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await m.text()).toContain("bgproxy_agent_sessions_active 2\n");
    expect(get("/nope").status).toBe(404);
    expect(get("/hc", "ok", "POST").status).toBe(405);
  });
});
