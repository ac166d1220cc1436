import { Histogram, type HistogramSample } from "../../metrics/registry.ts";
import type { SessionSnapshot } from "../session-snapshot.ts";
import type { BridgeTotals, RelayTotals } from "./agent-snapshot.ts";

/**
 * What the agent's status needs that a point-in-time status cannot show, folded from
 * events: the byte and message counts of sessions that have ended (so the totals never go
 * down when a session closes), and every heartbeat round trip (for the RTT histogram).
 */
export const HEARTBEAT_RTT_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

export class AgentTelemetry {
  private closed: RelayTotals = { bytesUp: 0, bytesDown: 0, messagesUp: 0, messagesDown: 0 };
  /** Data streams re-attached (resume or RESTART) in sessions that have ended. */
  private reattached = 0;
  private bridges: BridgeTotals = {
    bridged: 0,
    resumed: 0,
    routeRefreshesSent: 0,
    routerUpdatesDropped: 0,
    routerBytesDropped: 0,
    stallsCovered: 0,
  };
  private readonly rtt = new Histogram(
    "bgproxy_agent_heartbeat_rtt_seconds",
    "Round trip of Control-stream keepalives",
    HEARTBEAT_RTT_BUCKETS_SECONDS,
    [],
  );

  /** A keepalive answer arrived `ms` after it was sent. */
  heartbeat(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.rtt.observe({}, ms / 1000);
  }

  /** A session ended: keep its final counts. */
  sessionClosed(s: Pick<SessionSnapshot, keyof RelayTotals | "bridge" | "resumes">): void {
    this.reattached += s.resumes ?? 0;
    const b = s.bridge;
    if (b) {
      const t = this.bridges;
      this.bridges = {
        bridged: t.bridged + b.bridged,
        resumed: t.resumed + b.resumed,
        routeRefreshesSent: t.routeRefreshesSent + b.routeRefreshesSent,
        routerUpdatesDropped: t.routerUpdatesDropped + b.routerUpdatesDropped,
        routerBytesDropped: t.routerBytesDropped + b.routerBytesDropped,
        stallsCovered: t.stallsCovered + b.stallsCovered,
      };
    }
    this.closed = {
      bytesUp: this.closed.bytesUp + s.bytesUp,
      bytesDown: this.closed.bytesDown + s.bytesDown,
      messagesUp: this.closed.messagesUp + s.messagesUp,
      messagesDown: this.closed.messagesDown + s.messagesDown,
    };
  }

  get closedTotals(): RelayTotals {
    return this.closed;
  }

  get reattachedTotal(): number {
    return this.reattached;
  }

  get bridgeTotals(): BridgeTotals {
    return this.bridges;
  }

  get heartbeatRtt(): HistogramSample {
    return this.rtt.snapshot({});
  }
}
