import { EXTENDED_MAX_MESSAGE_LENGTH, MessageType } from "../../bgp/constants.ts";
import { encodeKeepalive } from "../../bgp/keepalive.ts";
import { BgpProxyError } from "../../core/errors.ts";
import {
  administrativeShutdown,
  gaveUp,
  holdTimerExpired,
  unexpectedMessage,
} from "./bridge-messages.ts";
import {
  type BridgeAction,
  type BridgeOptions,
  type BridgeSnapshot,
  type BridgeState,
  type BridgeStats,
  DEFAULT_BRIDGE_OPTIONS,
  isBridgingState,
  TRANSITIONS,
} from "./bridge-state.ts";
import { handshakeMessage } from "./far-end-handshake.ts";
import { MessageCursor } from "./message-cursor.ts";
import { SessionWatch } from "./session-watch.ts";
import { StallCover, type StallState } from "./stall-cover.ts";

/**
 * How long after a covered far end's bytes pass again a KILL still counts as that far end lost
 * to its stall (killIsLoss): the time a healed transport takes to deliver what it held.
 */
export const STALL_AFTERMATH_MS = 10_000;

const NO_ACTIONS: readonly BridgeAction[] = [];

/** RFC 4271 §4.4: KEEPALIVEs are not sent more often than once per second. */
const MIN_KEEPALIVE_GAP_MS = 1000;

/**
 * BGP-aware bridging of one router session, as a pure state machine: bytes and events in,
 * actions out, time passed in. No sockets, timers or logs here.
 *
 * While the far end (gateway, collector, daemon) is there, the bridge only watches the
 * bytes it relays: both OPENs, both first KEEPALIVEs, and what makes bridging unsafe.
 * When the far end is lost with the session Established, it keeps the router's session up
 * on its own: a KEEPALIVE at once and then every hold/3, the router's messages read and
 * dropped (UPDATEs counted), the router's hold timer watched. When a new far end is
 * attached it replays the router's OPEN, checks the far end's OPEN against the terms the
 * router's session was set up with, sends its KEEPALIVE, and once the far end's KEEPALIVE
 * arrives asks the router for a ROUTE-REFRESH of every AFI/SAFI of the session (RFC 2918;
 * the router answers with RFC 7313 BoRR/EoRR itself when Enhanced Route Refresh is in
 * force) and goes back to relaying (far-end-handshake.ts, far-end-check.ts). Bridging
 * does not apply (the router's session is closed, as without a bridge) when the router did
 * not advertise route refresh, the far end ever sent the router an UPDATE (those routes
 * could not be reconciled), the loss cut a message to the router in half, or the session
 * was not Established. After `giveUpMs` without a far end that took over, the router gets a
 * Cease/Administrative Reset and its session is closed. While relaying, a far end that
 * went silent is covered with KEEPALIVEs to the router where bridging would apply
 * (stall-cover.ts), so that a stall the transport still carries outlives the router's hold
 * timer.
 */
export class BgpBridge {
  private current: BridgeState = "opening";
  private readonly router = new MessageCursor(EXTENDED_MAX_MESSAGE_LENGTH);
  private far = new MessageCursor(EXTENDED_MAX_MESSAGE_LENGTH);
  private readonly watch = new SessionWatch();
  /** Router octets to drop until its next message boundary (a message cut by a loss). */
  private routerSkipping = false;
  private lostAt = 0;
  private attachedAt = 0;
  private lastFromRouter = 0;
  private nextKeepalive = 0;
  private readonly stall = new StallCover();
  private out: BridgeAction[] = [];
  readonly stats: BridgeStats = {
    bridged: 0,
    resumed: 0,
    routeRefreshesSent: 0,
    keepalivesSent: 0,
    routerUpdatesDropped: 0,
    routerBytesDropped: 0,
    stallsCovered: 0,
  };

  constructor(private readonly options: BridgeOptions = DEFAULT_BRIDGE_OPTIONS) {}

  get state(): BridgeState {
    return this.current;
  }

  snapshot(): BridgeSnapshot {
    return { state: this.current, ...this.stats };
  }

  /** While relaying: whether a silent far end is being covered (stall-cover.ts). */
  get stallState(): StallState {
    return this.stall.state;
  }

  /**
   * Whether a KILL on the current far end's stream is that far end lost, to be bridged like
   * a reset stream, rather than the end of the router's session: during a new far end's
   * handshake (the router knows nothing of it: a resumed stream that reached a gateway
   * which does not hold it), or once the far end stalled — its silence covered, or its Hold
   * Timer Expired dropped (stall-cover.ts). A far end that went quiet for half the hold
   * time and then failed was lost to the stall (seen in a 60 s partition: the daemon's hold
   * timer expired and it closed; the gateway's late write to it failed with EPIPE, and its
   * KILL reached the agent with no NOTIFICATION before it). So is a KILL within
   * STALL_AFTERMATH_MS of a covered far end's bytes passing again: what the transport held
   * through a partition arrives first when it heals, and says nothing of the far end now (seen
   * in the same test: the daemon's queued KEEPALIVEs reached the router, then, 1 ms later,
   * the KILL of the gateway's failed write). A KILL while the far end flows ends the router's
   * session, as a plain relay would.
   */
  killIsLoss(now: number): boolean {
    if (this.current === "reattach-open-sent" || this.current === "reattach-open-confirm") {
      return true;
    }
    if (this.current !== "established") return false;
    return this.stall.state !== "flowing" || this.stall.resumedWithin(now, STALL_AFTERMATH_MS);
  }

  /**
   * Whether the far end's FIN is that far end lost, to be bridged, rather than a FIN to pass
   * on to the router: while relaying where bridging would apply, and always while bridging
   * (the router knows nothing of a new far end in its handshake; a daemon may close at once,
   * as BIRD did just after its hold timer expired).
   */
  get finIsLoss(): boolean {
    return (
      isBridgingState(this.current) ||
      (this.current === "established" && this.bridgeBlocker === undefined)
    );
  }

  /** Why bridging would not apply if the far end were lost now (undefined: it would). */
  get bridgeBlocker(): string | undefined {
    if (this.current !== "established") return `session ${this.current}`;
    if (this.options.giveUpMs <= 0) return "bridging is off";
    if (this.watch.unsafe) return this.watch.unsafe;
    // Bytes held back or dropped (stall-cover.ts) never reached the router.
    if (this.far.midMessage && !this.stall.holding && this.stall.state !== "far-end-ended") {
      return "a message to the router is half sent";
    }
    return undefined;
  }

  /** Bytes read from the router. */
  fromRouter(chunk: Uint8Array, now: number): readonly BridgeAction[] {
    if (this.current === "closed") return NO_ACTIONS;
    const relaying = this.current === "opening" || this.current === "established";
    let firstEnd = -1;
    this.router.push(chunk, (type, end, message) => {
      if (firstEnd < 0) firstEnd = end;
      this.lastFromRouter = now;
      if (relaying) this.watch.router(type, message, this.current === "established");
      else this.bridgeRouterMessage(type);
    });
    if (this.router.failed) this.markUnsafe("the router's bytes are not BGP");
    if (!relaying) {
      this.stats.routerBytesDropped += chunk.length;
      return this.flush();
    }
    let from = 0;
    if (this.routerSkipping) {
      from = firstEnd < 0 ? chunk.length : firstEnd;
      this.stats.routerBytesDropped += from;
      if (firstEnd >= 0) this.routerSkipping = false;
    }
    if (from < chunk.length) {
      this.out.push({ kind: "toFarEnd", bytes: from === 0 ? chunk : chunk.subarray(from) });
    }
    this.maybeEstablished();
    return this.flush();
  }

  /** Bytes read from the far end. */
  fromFarEnd(chunk: Uint8Array, now: number): readonly BridgeAction[] {
    if (this.current === "closed" || this.current === "bridging") return NO_ACTIONS;
    if (this.current === "established" && !this.bridgeBlocker) return this.guarded(chunk, now);
    this.stall.flowed(now);
    let passFrom = this.current === "opening" || this.current === "established" ? 0 : -1;
    this.far.push(chunk, (type, end, message) => {
      if (passFrom >= 0) {
        this.watch.farEnd(type, message, this.current === "established");
        return;
      }
      if (this.reattachMessage(type, message, now)) passFrom = end;
    });
    if (this.far.failed && passFrom < 0 && this.isReattaching()) {
      this.dropFarEnd("the far end's bytes are not BGP");
    } else if (this.far.failed) this.markUnsafe("the far end's bytes are not BGP");
    if (passFrom >= 0 && passFrom < chunk.length) {
      this.out.push({ kind: "toRouter", bytes: passFrom === 0 ? chunk : chunk.subarray(passFrom) });
    }
    this.maybeEstablished();
    return this.flush();
  }

  /**
   * The far end is gone. `restart`: it said so (a draining gateway's RESTART); a session
   * that cannot be bridged then hears why, as from the gateway's own collector on a stop:
   * Cease / Administrative Shutdown, when the router's stream is at a message boundary.
   */
  farEndLost(now: number, why: string, restart = false): readonly BridgeAction[] {
    if (this.current === "closed" || this.current === "bridging") return NO_ACTIONS;
    if (this.isReattaching()) {
      this.move("bridging", `the new far end was lost too: ${why}`);
      return this.flush();
    }
    const blocker = this.bridgeBlocker;
    if (blocker) {
      if (restart && this.current === "established" && !this.far.midMessage) {
        this.out.push({ kind: "toRouter", bytes: administrativeShutdown() });
      }
      this.close(`far end lost (${why}); no bridging: ${blocker}`);
      return this.flush();
    }
    this.stats.bridged++;
    // The far end's last message (a KEEPALIVE, as likely as not) counts towards the gap.
    const lastToRouter = this.stall.lastToRouterAt;
    this.stall.reset(now);
    this.lostAt = now;
    this.lastFromRouter = Math.max(this.lastFromRouter, now);
    this.move("bridging", `far end lost: ${why}`);
    if (now - lastToRouter >= MIN_KEEPALIVE_GAP_MS) this.keepalive(now);
    else this.nextKeepalive = lastToRouter + MIN_KEEPALIVE_GAP_MS;
    return this.flush();
  }

  /** A new far end is there (a new Data stream): replay the router's OPEN to it. */
  farEndAttached(now: number): readonly BridgeAction[] {
    const routerOpen = this.watch.routerOpen;
    if (this.current !== "bridging" || !routerOpen) return NO_ACTIONS;
    this.far = new MessageCursor(EXTENDED_MAX_MESSAGE_LENGTH);
    this.attachedAt = now;
    this.move("reattach-open-sent", "a new far end: replaying the router's OPEN");
    this.out.push({ kind: "toFarEnd", bytes: routerOpen.bytes });
    return this.flush();
  }

  /** Time passed: keepalives, the router's hold timer, the handshake and give-up bounds. */
  tick(now: number): readonly BridgeAction[] {
    if (this.current === "established") return this.coverStall(now);
    if (!this.isBridging()) return NO_ACTIONS;
    const hold = this.watch.holdMs;
    if (hold > 0 && now - this.lastFromRouter >= hold) {
      this.out.push({ kind: "toRouter", bytes: holdTimerExpired() });
      this.close("the router's hold timer expired while bridging");
      return this.flush();
    }
    if (now - this.lostAt >= this.options.giveUpMs) {
      const seconds = Math.round(this.options.giveUpMs / 1000);
      this.out.push({ kind: "toRouter", bytes: gaveUp(seconds) });
      this.close(`gave up bridging after ${seconds} s`);
      return this.flush();
    }
    if (this.isReattaching() && now - this.attachedAt >= this.options.handshakeMs) {
      this.out.push({ kind: "toFarEnd", bytes: holdTimerExpired() });
      this.dropFarEnd("the new far end did not complete its handshake in time");
    }
    if (hold > 0 && now >= this.nextKeepalive) this.keepalive(now);
    return this.flush();
  }

  /** When `tick` next has something to do (undefined: nothing is pending). */
  nextDeadline(): number | undefined {
    if (this.current === "established") {
      const hold = this.watch.holdMs;
      if (hold === 0 || this.bridgeBlocker) return undefined;
      const next = this.stall.deadline(hold);
      if (this.stall.state === "flowing") return next;
      return Math.min(next, this.stall.coveredSince + this.options.giveUpMs);
    }
    if (!this.isBridging()) return undefined;
    const hold = this.watch.holdMs;
    const times = [this.lostAt + this.options.giveUpMs];
    if (hold > 0) times.push(this.nextKeepalive, this.lastFromRouter + hold);
    if (this.isReattaching()) times.push(this.attachedAt + this.options.handshakeMs);
    return Math.min(...times);
  }

  /** The router's connection ended: nothing more to do. */
  routerClosed(why: string): readonly BridgeAction[] {
    if (this.current === "closed") return NO_ACTIONS;
    this.close(`router closed: ${why}`);
    return this.flush();
  }

  private isReattaching(): boolean {
    return this.current === "reattach-open-sent" || this.current === "reattach-open-confirm";
  }

  private isBridging(): boolean {
    return isBridgingState(this.current);
  }

  private maybeEstablished(): void {
    if (this.current === "opening" && this.watch.established()) {
      this.move("established", "both OPENs and KEEPALIVEs seen");
    }
  }

  /** A router message while bridging: everything is dropped; some end the session. */
  private bridgeRouterMessage(type: number): void {
    if (this.current === "closed") return;
    if (type === MessageType.UPDATE) this.stats.routerUpdatesDropped++;
    else if (type === MessageType.NOTIFICATION) {
      this.close("the router sent a NOTIFICATION while bridging");
    } else if (type === MessageType.OPEN) {
      this.out.push({ kind: "toRouter", bytes: unexpectedMessage("established") });
      this.close("the router sent an OPEN while bridging");
    }
  }

  /**
   * A far-end message while re-attaching (far-end-handshake.ts). Returns true when it
   * completed the handshake: what follows it in the chunk is relayed.
   */
  private reattachMessage(type: number, message: Uint8Array | undefined, now: number): boolean {
    if (!this.isReattaching()) return false;
    const phase = this.current === "reattach-open-sent" ? "open-sent" : "open-confirm";
    const session = { routerOpen: this.watch.routerOpen?.open, terms: this.watch.terms };
    const outcome = handshakeMessage(phase, type, message, session);
    switch (outcome.kind) {
      case "refused":
        this.out.push({ kind: "toRouter", bytes: outcome.toRouter });
        this.close(outcome.reason);
        return false;
      case "mismatch":
        this.out.push(
          { kind: "toFarEnd", bytes: outcome.cease },
          { kind: "toRouter", bytes: outcome.cease },
        );
        this.close(outcome.reason);
        return false;
      case "drop":
        if (outcome.toFarEnd) this.out.push({ kind: "toFarEnd", bytes: outcome.toFarEnd });
        this.dropFarEnd(outcome.reason);
        return false;
      case "open-matches":
        this.watch.tookOver(outcome.open);
        this.out.push({ kind: "toFarEnd", bytes: outcome.toFarEnd });
        this.move("reattach-open-confirm", "the new far end's OPEN matches");
        return false;
      case "took-over":
        for (const bytes of outcome.toFarEnd) this.out.push({ kind: "toFarEnd", bytes });
        for (const bytes of outcome.toRouter) this.out.push({ kind: "toRouter", bytes });
        this.stats.routeRefreshesSent += outcome.toRouter.length;
        this.stats.resumed++;
        this.lastFromRouter = now;
        this.stall.reset(now);
        // A router message begun while bridging was dropped in part: drop the rest too.
        this.routerSkipping = this.router.midMessage;
        this.move("established", "the new far end took over; route refresh asked");
        return true;
    }
  }

  private dropFarEnd(reason: string): void {
    this.out.push({ kind: "closeFarEnd", reason });
    this.move("bridging", reason);
  }

  private keepalive(now: number): void {
    const hold = this.watch.terms?.holdTime ?? 0;
    if (hold === 0) return;
    this.out.push({ kind: "toRouter", bytes: encodeKeepalive() });
    this.stats.keepalivesSent++;
    this.nextKeepalive = now + Math.max(MIN_KEEPALIVE_GAP_MS, Math.floor((hold * 1000) / 3));
  }

  /** Relaying, the far end silent: a KEEPALIVE in its place where bridging would apply. */
  private coverStall(now: number): readonly BridgeAction[] {
    const hold = this.watch.holdMs;
    if (hold === 0 || this.bridgeBlocker) return NO_ACTIONS;
    const was = this.stall.state;
    if (was !== "flowing" && now >= this.stall.coveredSince + this.options.giveUpMs) {
      // The same bound as bridging: a far end silent this long is not coming back.
      const seconds = Math.round(this.options.giveUpMs / 1000);
      this.out.push({ kind: "toRouter", bytes: gaveUp(seconds) });
      this.close(`gave up covering a silent far end after ${seconds} s`);
      return this.flush();
    }
    if (!this.stall.keepaliveDue(now, hold)) return NO_ACTIONS;
    if (was === "flowing") {
      this.stats.stallsCovered++;
      this.out.push({ kind: "note", reason: "the far end is silent: KEEPALIVEs to the router" });
    }
    this.out.push({ kind: "toRouter", bytes: encodeKeepalive() });
    this.stats.keepalivesSent++;
    return this.flush();
  }

  /** Far-end bytes while bridging would apply: message by message (stall-cover.ts). */
  private guarded(chunk: Uint8Array, now: number): readonly BridgeAction[] {
    const r = this.stall.guard(
      chunk,
      this.far,
      (type, _end, message) => this.watch.farEnd(type, message, this.current === "established"),
      () => this.bridgeBlocker === undefined,
      now,
    );
    if (this.far.failed) this.markUnsafe("the far end's bytes are not BGP");
    for (const bytes of r.release) this.out.push({ kind: "toRouter", bytes });
    if (r.ended) {
      const reason = "the far end's hold timer expired (a stall): its NOTIFICATION is dropped";
      this.out.push({ kind: "note", reason });
    }
    return this.flush();
  }

  private markUnsafe(reason: string): void {
    this.watch.markUnsafe(reason);
  }

  /** Ends the session: the router's connection is closed (and a new far end's, if any). */
  private close(reason: string): void {
    if (this.isReattaching()) this.out.push({ kind: "closeFarEnd", reason });
    this.out.push({ kind: "closeRouter", reason });
    this.move("closed", reason);
  }

  private move(to: BridgeState, reason: string): void {
    const from = this.current;
    if (!TRANSITIONS[from].includes(to)) {
      throw new BgpProxyError("internal", `bgp bridge: illegal transition ${from} -> ${to}`);
    }
    this.current = to;
    this.out.push({ kind: "state", from, to, reason });
  }

  private flush(): readonly BridgeAction[] {
    if (this.out.length === 0) return NO_ACTIONS;
    const out = this.out;
    this.out = [];
    return out;
  }
}
