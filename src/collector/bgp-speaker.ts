export type { BgpSpeakerOptions, SpeakerCloseReason } from "./speaker-options.ts";

import {
  Afi,
  CeaseSubcode,
  ErrorCode,
  FsmErrorSubcode,
  LARGE_HOLD_TIME,
  MessageType,
  OpenErrorSubcode,
  Safi,
} from "../bgp/constants.ts";
import { type BgpFrame, BgpFramer } from "../bgp/framer.ts";
import { encodeKeepalive } from "../bgp/keepalive.ts";
import {
  decodeNotification,
  describeNotification,
  encodeNotification,
  shutdownCommunication,
} from "../bgp/notification.ts";
import { BgpNotificationError } from "../bgp/notification-error.ts";
import { type BgpOpen, decodeOpen, encodeOpen } from "../bgp/open.ts";
import { decodeRouteRefresh } from "../bgp/route-refresh.ts";
import { decodeUpdate } from "../bgp/update.ts";
import type { Clock } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import type { PrefixTable } from "./prefix-table.ts";
import { RouteCounter } from "./route-counter.ts";
import { SessionTimers } from "./session-timers.ts";
import {
  type BgpSpeakerOptions,
  checkSpeakerOptions,
  type SpeakerCloseReason,
} from "./speaker-options.ts";
import { type SpeakerState, SpeakerStateMachine } from "./speaker-state.ts";
import {
  countMessage,
  emptyMessageCounts,
  type MessageCounts,
  type SpeakerStats,
} from "./speaker-stats.ts";

const FSM_SUBCODE: Partial<Record<SpeakerState, number>> = {
  OpenSent: FsmErrorSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT,
  OpenConfirm: FsmErrorSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM,
  Established: FsmErrorSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED,
};

/**
 * A passive BGP speaker for one relayed session, independent of any transport. Feed
 * it the peer's bytes with `receive`; it writes through `onSend`. It starts Active,
 * waits for the peer's OPEN, answers with its own OPEN (IPv4 and IPv6 unicast, 4-octet
 * AS, route refresh) and a KEEPALIVE, keeps the session alive, and counts what the
 * peer announces and withdraws. It never sends routes. Any error becomes a
 * NOTIFICATION and `onClose`; nothing is thrown out of `receive`. One instance serves
 * one session: after `onClose` it ignores further input.
 */
export class BgpSpeaker {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly fsm: SpeakerStateMachine;
  private readonly framer = new BgpFramer();
  private readonly routes = new RouteCounter();
  private readonly timers: SessionTimers;
  private readonly localAsn: number;
  private readonly routerId: string;
  private readonly ourHoldTime: number;
  private readonly expectedPeerAsn: number | undefined;
  private readonly maxPrefixes: number;
  private readonly opts: BgpSpeakerOptions;

  private closed = false;
  /** The whole OPEN messages, for a monitor's Peer Up. */
  private readonly opens: { received?: Uint8Array; sent?: Uint8Array } = {};
  private peer: BgpOpen | undefined;
  private fourOctetAs = false;
  private holdTime: number;
  private establishedAt: number | undefined;
  private lastError: string | undefined;
  private readonly messagesIn: MessageCounts = emptyMessageCounts();
  private readonly messagesOut: MessageCounts = emptyMessageCounts();
  private bytesIn = 0;
  private bytesOut = 0;

  /** Validates the options (ConfigError), then starts: Idle -> Active. */
  constructor(options: BgpSpeakerOptions) {
    const hold = checkSpeakerOptions(options);
    this.opts = options;
    this.clock = options.clock;
    this.timers = new SessionTimers(options.clock);
    this.logger = options.logger ?? silentLogger;
    this.localAsn = options.localAsn;
    this.routerId = options.routerId;
    this.ourHoldTime = hold;
    this.holdTime = hold;
    this.expectedPeerAsn = options.peerAsn;
    this.maxPrefixes = options.maxPrefixes ?? Number.POSITIVE_INFINITY;
    this.fsm = new SpeakerStateMachine(this.logger, options.onStateChange);
    this.fsm.transition("Active");
    // RFC 4271 §8.2.2: until an OPEN arrives the hold timer runs with a large value.
    this.armHoldTimer(LARGE_HOLD_TIME);
  }

  get state(): SpeakerState {
    return this.fsm.state;
  }

  /** The prefixes the peer currently announces. */
  get prefixes(): PrefixTable {
    return this.routes.table;
  }

  /** Feed bytes received from the peer. Never throws. */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    try {
      const frames = this.framer.push(chunk);
      if (frames.length > 0) this.timers.heard();
      for (const frame of frames) {
        this.handle(frame);
        if (this.closed) return;
      }
      if (this.framer.error) throw this.framer.error;
    } catch (err) {
      this.fail(err);
    }
  }

  /** End the session without sending anything (e.g. the transport is gone). */
  close(reason = "closed locally"): void {
    this.finish({ kind: "local", message: reason });
  }

  /** End the session politely: Cease/Administrative Shutdown with an RFC 9003 message. */
  shutdown(message = "administrative shutdown"): void {
    if (this.closed) return;
    const notification = {
      code: ErrorCode.CEASE,
      subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
      data: shutdownCommunication(message),
      shutdownMessage: message,
    };
    this.sendNotification(notification);
    this.finish({
      kind: "notification-sent",
      message: `sent ${describeNotification(notification)}`,
      notification,
    });
  }

  /** A plain snapshot of the session's state and counters. */
  stats(): SpeakerStats {
    const s: SpeakerStats = {
      state: this.fsm.state,
      holdTime: this.holdTime,
      updates: this.messagesIn.update,
      messagesIn: { ...this.messagesIn },
      messagesOut: { ...this.messagesOut },
      prefixes: { ipv4: this.routes.table.ipv4, ipv6: this.routes.table.ipv6 },
      announced: { ...this.routes.announced },
      withdrawn: { ...this.routes.withdrawn },
      endOfRib: { ...this.routes.endOfRib },
      treatAsWithdraw: this.routes.treatAsWithdraw,
      attributesDiscarded: this.routes.attributesDiscarded,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
    if (this.peer) {
      s.peerAsn = this.peer.asn;
      s.peerRouterId = this.peer.routerId;
    }
    if (this.establishedAt !== undefined) s.establishedAt = this.establishedAt;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  private handle(frame: BgpFrame): void {
    countMessage(this.messagesIn, frame.type);
    const state = this.fsm.state;
    switch (frame.type) {
      case MessageType.NOTIFICATION: {
        const n = decodeNotification(frame.body);
        const text = describeNotification(n);
        this.lastError = `peer sent ${text}`;
        this.logger.warn("peer sent NOTIFICATION", { notification: text });
        this.finish({ kind: "notification-received", message: this.lastError, notification: n });
        return;
      }
      case MessageType.OPEN:
        if (state !== "Active") throw this.unexpected(frame);
        this.opens.received = frame.message;
        this.handleOpen(decodeOpen(frame.body));
        return;
      case MessageType.KEEPALIVE:
        if (state === "OpenConfirm") {
          this.establishedAt = this.clock.now();
          this.fsm.transition("Established");
          if (this.opens.received && this.opens.sent) {
            this.opts.monitor?.up({
              receivedOpen: this.opens.received,
              sentOpen: this.opens.sent,
              fourOctetAs: this.fourOctetAs,
            });
          }
          // The transition is logged at debug; the collector endpoint logs it at info.
        } else if (state !== "Established") {
          throw this.unexpected(frame);
        }
        return;
      case MessageType.UPDATE:
        if (state !== "Established") throw this.unexpected(frame);
        this.handleUpdate(frame.body, frame.message);
        return;
      case MessageType.ROUTE_REFRESH:
        if (state !== "Established") throw this.unexpected(frame);
        // We advertise no routes, so there is nothing to send again.
        decodeRouteRefresh(frame.body);
        return;
    }
  }

  private unexpected(frame: BgpFrame): BgpNotificationError {
    const state = this.fsm.state;
    return new BgpNotificationError(
      ErrorCode.FSM,
      FSM_SUBCODE[state] ?? FsmErrorSubcode.UNSPECIFIED,
      `unexpected message type ${frame.type} in state ${state}`,
    );
  }

  private handleOpen(open: BgpOpen): void {
    if (this.expectedPeerAsn !== undefined && open.asn !== this.expectedPeerAsn) {
      throw new BgpNotificationError(
        ErrorCode.OPEN_MESSAGE,
        OpenErrorSubcode.BAD_PEER_AS,
        `peer AS ${open.asn}, expected ${this.expectedPeerAsn}`,
      );
    }
    // RFC 6286 §2.2: the same identifier as ours is refused from an internal peer.
    if (open.routerId === this.routerId && open.asn === this.localAsn) {
      throw new BgpNotificationError(
        ErrorCode.OPEN_MESSAGE,
        OpenErrorSubcode.BAD_BGP_IDENTIFIER,
        `internal peer uses our BGP identifier ${open.routerId}`,
      );
    }
    this.peer = open;
    this.fourOctetAs = open.capabilities.fourOctetAs !== undefined;
    this.holdTime = Math.min(this.ourHoldTime, open.holdTime);
    this.logger.info("OPEN received", {
      peer_asn: open.asn,
      peer_router_id: open.routerId,
      peer_hold_time: open.holdTime,
      hold_time: this.holdTime,
      four_octet_as: this.fourOctetAs,
    });
    this.opens.sent = encodeOpen({
      asn: this.localAsn,
      holdTime: this.ourHoldTime,
      routerId: this.routerId,
      capabilities: {
        multiprotocol: [
          { afi: Afi.IPV4, safi: Safi.UNICAST },
          { afi: Afi.IPV6, safi: Safi.UNICAST },
        ],
        routeRefresh: true,
        fourOctetAs: true,
      },
    });
    this.send(this.opens.sent);
    this.fsm.transition("OpenSent");
    this.send(encodeKeepalive());
    this.fsm.transition("OpenConfirm");
    this.timers.cancel();
    if (this.holdTime > 0) {
      this.armHoldTimer(this.holdTime);
      const interval = Math.max(1, Math.floor(this.holdTime / 3)) * 1000;
      this.timers.armKeepalive(interval, () => this.guard(() => this.send(encodeKeepalive())));
    }
  }

  private handleUpdate(body: Uint8Array, message: Uint8Array): void {
    const update = decodeUpdate(body, {
      fourOctetAs: this.fourOctetAs,
      external: this.peer?.asn !== this.localAsn,
    });
    if (update.treatAsWithdraw) {
      const errors = update.problems.map((p) => p.error.message);
      this.lastError = `treat-as-withdraw: ${errors.join("; ")}`;
      this.logger.warn("malformed UPDATE treated as withdraw (RFC 7606)", { errors });
    }
    const eor = this.routes.apply(update);
    this.opts.rib?.apply(update);
    this.opts.monitor?.update(message, update);
    if (eor) {
      this.logger.info("End-of-RIB received", { family: eor, prefixes: this.routes.table[eor] });
      this.opts.onEndOfRib?.(eor);
    }
    const overLimit = this.routes.limitError(this.maxPrefixes);
    if (overLimit) throw overLimit;
  }

  private armHoldTimer(seconds: number): void {
    this.timers.armHold(seconds, () =>
      this.fail(
        new BgpNotificationError(
          ErrorCode.HOLD_TIMER_EXPIRED,
          0,
          `nothing heard for ${seconds} seconds`,
        ),
      ),
    );
  }

  /** Run a timer's work unless closed; its errors end the session. */
  private guard(work: () => void): void {
    if (this.closed) return;
    try {
      work();
    } catch (err) {
      this.fail(err);
    }
  }

  private send(bytes: Uint8Array): void {
    countMessage(this.messagesOut, bytes[18] as number);
    this.bytesOut += bytes.length;
    this.opts.onSend(bytes);
  }

  private sendNotification(n: { code: number; subcode: number; data: Uint8Array }): void {
    try {
      this.send(encodeNotification(n));
    } catch (err) {
      this.logger.error("sending NOTIFICATION failed", { error: errorMessage(err) });
    }
  }

  /** Turn any error into a NOTIFICATION (when it carries one) and the end of the session. */
  private fail(err: unknown): void {
    if (this.closed) return;
    const error =
      err instanceof BgpNotificationError
        ? err
        : new BgpNotificationError(ErrorCode.CEASE, 0, `internal error: ${errorMessage(err)}`);
    if (!(err instanceof BgpNotificationError)) {
      this.logger.error("BGP speaker internal error", { error: errorMessage(err) });
    }
    this.lastError = error.message;
    this.logger.warn("sending NOTIFICATION", { error: error.message });
    const notification = { code: error.code, subcode: error.subcode, data: error.data };
    this.sendNotification(notification);
    this.finish({
      kind: "notification-sent",
      message: `sent ${error.message}`,
      notification,
    });
  }

  private finish(reason: SpeakerCloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.timers.cancel();
    this.opts.rib?.clear();
    if (this.establishedAt !== undefined && this.opts.monitor) {
      const n = reason.notification;
      this.opts.monitor.down({
        local: reason.kind !== "notification-received",
        ...(n ? { notification: encodeNotification(n) } : {}),
      });
    }
    try {
      if (this.fsm.state !== "Idle") this.fsm.transition("Idle");
    } catch (err) {
      this.logger.error("state change failed", { error: errorMessage(err) });
    }
    // Debug: the collector endpoint logs the close, with its cause, at info.
    this.logger.debug("session closed", { reason: reason.message });
    try {
      this.opts.onClose?.(reason);
    } catch (err) {
      this.logger.error("onClose handler failed", { error: errorMessage(err) });
    }
  }
}
