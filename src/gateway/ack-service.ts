import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";
import type { Ack } from "../proto/resume-service.ts";
import { admitAgentCall } from "./agent-call.ts";
import type { AckRoute, HeldSessions } from "./held-sessions.ts";
import type { LoginGuard } from "./login-guard.ts";

/**
 * The gateway's side of bgproxy.v1.ResumeService/Acks (docs/wire-protocol.md, "Resume
 * acknowledgements"): one stream per agent connection. An acknowledgement from the agent
 * is passed to its session (an unknown session-id, or one of another account, is ignored:
 * it may have ended meanwhile); the gateway's acknowledgements for a session go back on the
 * stream that last acknowledged it.
 */
export interface AckServiceDeps {
  /** Undefined: resume is off here (UNIMPLEMENTED, as a gateway without the service). */
  held?: HeldSessions;
  logins: LoginGuard;
  logger: Logger;
}

type AckCall = grpc.ServerDuplexStream<Ack, Ack>;

export function ackService(deps: AckServiceDeps): grpc.handleBidiStreamingCall<Ack, Ack> {
  return (call: AckCall) => {
    const agent = admitAgentCall(call, deps.logins);
    if (!agent) return;
    const held = deps.held;
    if (!held) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "resume is off" });
      return;
    }
    let open = true;
    const route: AckRoute = {
      send: (sessionId, received) => {
        if (open && !call.writableEnded && !call.destroyed) call.write({ sessionId, received });
      },
    };
    call.on("data", (ack: Ack) => {
      held.acknowledged(ack.sessionId, agent.email, ack.received, route);
    });
    const done = () => {
      if (!open) return;
      open = false;
      held.dropRoute(route);
    };
    call.on("end", () => {
      done();
      call.end();
    });
    call.on("cancelled", done);
    call.on("error", () => done());
    deps.logger.debug("acknowledgement stream opened", { instance: agent.instance });
  };
}
