import type { ControlStatus } from "../control-channel.ts";
import type { CheckOutcome } from "./agent-health.ts";

/**
 * The agent's health checks: pure functions of its status at `now`.
 *
 * - `control_stream`: the Control stream to the gateway is up (pending while a connection
 *   attempt is in progress; failing while backing off after a failure, with its reason);
 * - `heartbeat`: while up, something was heard from the gateway within two heartbeat
 *   intervals (and within the heartbeat timeout): keepalive answers are fresh;
 * - `listeners`: every configured router listener is bound.
 */
export interface AgentCheckInput {
  readonly control: ControlStatus;
  readonly listenersBound: number;
  readonly listenersConfigured: number;
  readonly heartbeat: { readonly intervalMs: number; readonly timeoutMs: number };
}

/** How long without any message from the gateway still counts as fresh. */
export function heartbeatFreshMs(heartbeat: AgentCheckInput["heartbeat"]): number {
  return Math.min(2 * heartbeat.intervalMs, heartbeat.timeoutMs);
}

function controlCheck(control: ControlStatus): CheckOutcome {
  const check = "control_stream";
  switch (control.state) {
    case "ready":
      return { check, state: "ok" };
    case "idle":
    case "connecting":
      return { check, state: "pending", error: "connecting to the gateway" };
    case "backoff":
      return {
        check,
        state: "failing",
        error: `control stream down: ${control.lastError ?? "unknown reason"}`,
      };
    case "closed":
      return { check, state: "failing", error: "control stream closed (agent stopping)" };
  }
}

export function agentChecks(input: AgentCheckInput, now: number): CheckOutcome[] {
  const outcomes: CheckOutcome[] = [controlCheck(input.control)];
  if (input.control.state === "ready") {
    const heard = input.control.lastRx ?? input.control.since;
    const age = now - heard;
    const limit = heartbeatFreshMs(input.heartbeat);
    outcomes.push(
      age <= limit
        ? { check: "heartbeat", state: "ok" }
        : {
            check: "heartbeat",
            state: "failing",
            error: `nothing heard from the gateway for ${age} ms (limit ${limit} ms)`,
          },
    );
  }
  const missing = input.listenersConfigured - input.listenersBound;
  outcomes.push(
    missing <= 0
      ? { check: "listeners", state: "ok" }
      : {
          check: "listeners",
          state: "failing",
          error: `${missing} of ${input.listenersConfigured} router listeners not bound`,
        },
  );
  return outcomes;
}
