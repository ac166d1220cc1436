import type * as grpc from "@grpc/grpc-js";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type Ack, openAcks } from "../proto/resume-service.ts";
import type { ResumableCall } from "../relay/resumable-call.ts";

/**
 * The agent's bgproxy.v1.ResumeService/Acks streams (docs/wire-protocol.md, "Resume
 * acknowledgements"): at most one per gRPC connection, opened when the first session on it
 * that the gateway accepted for resume has something to acknowledge, ended when the last
 * such session leaves it. A session registers with the connection its current Data stream
 * runs on; acknowledgements for it go out there, and the gateway's for it come back there.
 * A failed stream is re-opened by the next acknowledgement.
 */
export class AckLinks {
  private readonly links = new WeakMap<grpc.Client, AckLink>();

  constructor(
    private readonly metadata: () => grpc.Metadata,
    private readonly logger: Logger,
  ) {}

  /** Acknowledge `session` over `client`'s connection; returns how to leave it. */
  register(client: grpc.Client, sessionId: string, session: ResumableCall): () => void {
    let link = this.links.get(client);
    if (!link) {
      link = new AckLink(client, this.metadata, this.logger);
      this.links.set(client, link);
    }
    return link.register(sessionId, session);
  }
}

class AckLink {
  private call?: grpc.ClientDuplexStream<Ack, Ack>;
  private readonly sessions = new Map<string, ResumableCall>();

  constructor(
    private readonly client: grpc.Client,
    private readonly metadata: () => grpc.Metadata,
    private readonly logger: Logger,
  ) {}

  register(sessionId: string, session: ResumableCall): () => void {
    this.sessions.set(sessionId, session);
    session.setAckSink((received) => this.send({ sessionId, received }));
    return () => {
      if (this.sessions.get(sessionId) !== session) return;
      this.sessions.delete(sessionId);
      if (this.sessions.size === 0) {
        this.call?.end();
        this.call = undefined;
      }
    };
  }

  private send(ack: Ack): void {
    if (!this.sessions.has(ack.sessionId)) return;
    this.open().write(ack);
  }

  private open(): grpc.ClientDuplexStream<Ack, Ack> {
    if (this.call) return this.call;
    const call = openAcks(this.client, this.metadata());
    this.call = call;
    call.on("data", (ack: Ack) => this.sessions.get(ack.sessionId)?.acknowledge(ack.received));
    const gone = () => {
      if (this.call === call) this.call = undefined;
    };
    call.on("error", (err: Error) => {
      gone();
      this.logger.debug("acknowledgement stream ended", { error: errorMessage(err) });
    });
    call.on("close", gone);
    call.on("end", gone);
    return call;
  }
}
