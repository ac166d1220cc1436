import { describe, expect, test } from "bun:test";
import type { BridgeSnapshot } from "../../src/agent/bridge/bridge-state.ts";
import { agentMetricFamilies } from "../../src/agent/status/agent-metrics.ts";
import { renderSession, renderSessions } from "../../src/agent/status/agent-status-view.ts";
import { renderPrometheusText } from "../../src/metrics/prometheus-text.ts";
import { NOW, session, snapshot, status } from "../fixtures/status/snapshot.ts";

const bridging: BridgeSnapshot = {
  state: "bridging",
  bridged: 1,
  resumed: 0,
  routeRefreshesSent: 0,
  keepalivesSent: 3,
  routerUpdatesDropped: 7,
  routerBytesDropped: 700,
  stallsCovered: 0,
};
const resumed: BridgeSnapshot = {
  state: "established",
  bridged: 2,
  resumed: 2,
  routeRefreshesSent: 4,
  keepalivesSent: 5,
  routerUpdatesDropped: 1,
  routerBytesDropped: 100,
  stallsCovered: 2,
};

describe("bridging in the agent's status and metrics", () => {
  test("/admin/sessions marks a bridging session; the detail shows the bridge's counters", () => {
    const view = renderSessions(
      [session({ state: "bridging", bridge: bridging }), session({ bridge: resumed }), session()],
      NOW,
    );
    expect(view.Sessions.map((s) => [s.Connected, s.Bridging])).toEqual([
      [false, true],
      [true, false],
      [true, undefined],
    ]);
    expect(renderSession(session({ state: "bridging", bridge: bridging }), NOW).Bridge).toEqual({
      State: "bridging",
      Bridged: 1,
      Resumed: 0,
      RouteRefreshesSent: 0,
      RouterUpdatesDropped: 7,
      RouterBytesDropped: 700,
      StallsCovered: 0,
    });
    expect(renderSession(session(), NOW).Bridge).toBeUndefined();
  });

  test("metrics count bridging sessions, and totals over open and ended sessions", () => {
    const snap = snapshot({
      status: status({
        sessions: [session({ state: "bridging", bridge: bridging }), session({ bridge: resumed })],
      }),
      bridgeTotals: {
        bridged: 10,
        resumed: 9,
        routeRefreshesSent: 18,
        routerUpdatesDropped: 100,
        routerBytesDropped: 10_000,
        stallsCovered: 1,
      },
    });
    const text = renderPrometheusText(agentMetricFamilies(snap));
    expect(text).toContain("bgproxy_agent_sessions_bridging 1\n");
    expect(text).toContain("bgproxy_agent_bridged_total 13\n");
    expect(text).toContain("bgproxy_agent_bridge_resumes_total 11\n");
    expect(text).toContain("bgproxy_agent_route_refreshes_sent_total 22\n");
    expect(text).toContain("bgproxy_agent_bridge_dropped_updates_total 108\n");
    expect(text).toContain("bgproxy_agent_bridge_dropped_bytes_total 10800\n");
    expect(text).toContain("bgproxy_agent_bridge_stalls_covered_total 3\n");
  });

  test("with bridging off there are no bridging metrics", () => {
    const text = renderPrometheusText(agentMetricFamilies(snapshot()));
    expect(text).not.toContain("bridg");
  });

  test("metrics count re-attached streams over open and ended sessions", () => {
    const snap = snapshot({
      status: status({ sessions: [session({ resumes: 2 }), session({ resumes: 1 }), session()] }),
      reattachedClosed: 4,
    });
    const text = renderPrometheusText(agentMetricFamilies(snap));
    expect(text).toContain("bgproxy_agent_stream_reattaches_total 7\n");
    expect(renderPrometheusText(agentMetricFamilies(snapshot()))).toContain(
      "bgproxy_agent_stream_reattaches_total 0\n",
    );
  });

  test("the detail counts re-attached streams (resume or RESTART) when there were any", () => {
    expect(renderSession(session({ resumes: 3 }), NOW).Reattached).toBe(3);
    expect(renderSession(session({ resumes: 0 }), NOW).Reattached).toBeUndefined();
    expect(renderSession(session(), NOW).Reattached).toBeUndefined();
  });
});
