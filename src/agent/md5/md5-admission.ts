import { BgpProxyError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { ControlResponse, FiveTuple } from "../../proto/messages.ts";
import { Admission, type AdmissionDecision } from "../admission.ts";
import type { ControlCache } from "../control-cache.ts";
import type { ControlChannel } from "../control-channel.ts";
import type { DenyList } from "../deny-list.ts";

/**
 * Admission with TCP-MD5 support on: every fresh answer also feeds the key table, and a connection
 * from a device that has a key is refused unless its SYN was signed. The kernel enforces a
 * key once it is on the listening socket; this closes the window before it is (a router
 * without a password connecting before any signed SYN from that device was seen): such a
 * session must never be relayed as if it were protected.
 */
export interface SignatureGate {
  /** An answer for a connection: install, refresh or remove the device's key. */
  learn(response: ControlResponse): void;
  /** An answer the gateway pushed: update the device's key if it has one. */
  refresh(response: ControlResponse): void;
  /** Whether this connection's SYN carried a signature. */
  wasSigned(tuple: FiveTuple): boolean;
}

export class Md5Admission extends Admission {
  constructor(
    control: Pick<ControlChannel, "request">,
    cache: ControlCache,
    denyList: DenyList,
    logger: Logger,
    private readonly gate: SignatureGate,
  ) {
    super(control, cache, denyList, logger);
  }

  override async admit(tuple: FiveTuple, sessionId: string): Promise<AdmissionDecision> {
    const decision = await super.admit(tuple, sessionId);
    if (decision.kind !== "proceed") return decision;
    // A cached answer was learned when it was fresh: re-learning would stretch its TTL.
    if (!decision.cached) this.gate.learn(decision.response);
    if (decision.response.tcpMd5.byteLength > 0 && !this.gate.wasSigned(tuple)) {
      throw new BgpProxyError(
        "blocked",
        "refused: the device has a TCP-MD5 key but this connection is not signed (is the router's password set?)",
        { retryable: false },
      );
    }
    return decision;
  }

  override onPush(response: ControlResponse): void {
    super.onPush(response);
    this.gate.refresh(response);
  }
}
