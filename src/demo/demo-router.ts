import { connect, isIP, type Socket } from "node:net";
import { Afi, CeaseSubcode, ErrorCode, MessageType, Safi } from "../bgp/constants.ts";
import { BgpFramer } from "../bgp/framer.ts";
import { encodeKeepalive } from "../bgp/keepalive.ts";
import {
  decodeNotification,
  describeNotification,
  encodeNotification,
} from "../bgp/notification.ts";
import { decodeOpen, encodeOpen } from "../bgp/open.ts";
import type { HostPort } from "../config/types.ts";
import { hostPort } from "../core/address.ts";
import { type Clock, systemClock, type TimerHandle } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { StateMachine } from "../core/state-machine.ts";
import { churnRound, DEMO_TABLE, type DemoTableSpec, initialTable } from "./demo-table.ts";

/**
 * `bgproxy standalone --demo`'s built-in router: an active BGP speaker that connects to the
 * agent's router listener from `source`, brings the session up, sends the generated demo
 * table and then churns a slice of it every few seconds, so the collector's counts,
 * /api/devices and the status page move without any real router. Reconnects after a pause
 * when the session ends, until closed.
 */
export type DemoRouterState = "idle" | "connecting" | "open-sent" | "established" | "closed";

const TRANSITIONS: Record<DemoRouterState, readonly DemoRouterState[]> = {
  idle: ["connecting", "closed"],
  connecting: ["open-sent", "idle", "closed"],
  "open-sent": ["established", "idle", "closed"],
  established: ["idle", "closed"],
  closed: [],
};

export interface DemoRouterOptions {
  /** The agent's router listener. */
  readonly target: HostPort;
  /** Local address to connect from (the demo device's address). */
  readonly source?: string;
  readonly table?: Partial<Omit<DemoTableSpec, "nextHop">>;
  /** Between churn rounds. */
  readonly churnMs?: number;
  /** Before connecting again after the session ended. */
  readonly retryMs?: number;
  readonly holdTimeS?: number;
  readonly clock?: Clock;
}

const DEMO_ROUTER_ID = "192.0.2.2";

export class DemoRouter {
  private readonly machine: StateMachine<DemoRouterState>;
  private readonly spec: DemoTableSpec;
  private readonly clock: Clock;
  private socket?: Socket;
  private timers: TimerHandle[] = [];
  private round = 0;
  private sentUpdates = 0;

  constructor(
    private readonly options: DemoRouterOptions,
    private readonly logger: Logger,
  ) {
    this.clock = options.clock ?? systemClock;
    const source = options.source;
    const nextHop = source && isIP(source) === 4 ? source : DEMO_ROUTER_ID;
    this.spec = { ...DEMO_TABLE, ...options.table, nextHop };
    this.spec = { ...this.spec, nextHop: DEMO_ROUTER_ID };
    this.machine = new StateMachine<DemoRouterState>(
      "demo router",
      "idle",
      TRANSITIONS,
      logger,
      () => this.clock.now(),
    );
  }

  get state(): DemoRouterState {
    return this.machine.state;
  }

  /** UPDATE messages sent over every session so far. */
  get updatesSent(): number {
    return this.sentUpdates;
  }

  start(): void {
    if (!this.machine.is("idle")) return;
    this.machine.moveTo("connecting");
    const { target, source } = this.options;
    const socket = connect({
      host: target.host,
      port: target.port,
      ...(source ? { localAddress: source } : {}),
    });
    this.socket = socket;
    const framer = new BgpFramer();
    socket.on("connect", () => {
      if (!this.machine.is("connecting")) return;
      this.machine.moveTo("open-sent");
      socket.write(
        encodeOpen({
          asn: this.spec.asn,
          holdTime: this.options.holdTimeS ?? 90,
          routerId: DEMO_ROUTER_ID,
          capabilities: {
            multiprotocol: [
              { afi: Afi.IPV4, safi: Safi.UNICAST },
              { afi: Afi.IPV6, safi: Safi.UNICAST },
            ],
            routeRefresh: true,
          },
        }),
      );
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of framer.push(chunk)) this.onMessage(frame.type, frame.body);
      } catch (err) {
        this.end(`bad message from the collector: ${errorMessage(err)}`);
      }
    });
    socket.on("error", (err) => this.end(err.message));
    socket.on("close", () => this.end("connection closed"));
  }

  private onMessage(type: number, body: Uint8Array): void {
    if (type === MessageType.OPEN && this.machine.is("open-sent")) {
      const open = decodeOpen(body);
      this.send([encodeKeepalive()]);
      this.keepalives(open.holdTime);
      return;
    }
    if (type === MessageType.KEEPALIVE && this.machine.is("open-sent")) {
      this.machine.moveTo("established");
      const table = initialTable(this.spec);
      this.send(table);
      this.logger.info("demo router established: table sent", {
        peer: hostPort(this.options.target.host, this.options.target.port),
        ipv4_prefixes: this.spec.ipv4,
        ipv6_prefixes: this.spec.ipv6,
      });
      this.churn();
      return;
    }
    if (type === MessageType.NOTIFICATION) {
      this.end(
        `NOTIFICATION from the collector: ${describeNotification(decodeNotification(body))}`,
      );
    }
  }

  private send(messages: readonly Uint8Array[]): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    for (const m of messages) {
      if (m[18] === MessageType.UPDATE) this.sentUpdates++;
      socket.write(m);
    }
  }

  private keepalives(holdTime: number): void {
    if (holdTime === 0) return;
    const every = Math.max(1, Math.floor(holdTime / 3)) * 1000;
    const tick = () => {
      this.send([encodeKeepalive()]);
      this.timers.push(this.clock.schedule(every, tick));
    };
    this.timers.push(this.clock.schedule(every, tick));
  }

  private churn(): void {
    const every = this.options.churnMs ?? 5_000;
    const tick = () => {
      if (!this.machine.is("established")) return;
      this.round++;
      this.send(churnRound(this.spec, this.round));
      this.timers.push(this.clock.schedule(every, tick));
    };
    this.timers.push(this.clock.schedule(every, tick));
  }

  /** The session ended: stop its timers and connect again after a pause. */
  private end(reason: string): void {
    if (this.machine.is("idle", "closed")) return;
    this.stopSession();
    this.machine.moveTo("idle", reason);
    this.logger.warn("demo router session ended; reconnecting", { reason });
    this.timers.push(this.clock.schedule(this.options.retryMs ?? 5_000, () => this.start()));
  }

  private stopSession(): void {
    for (const t of this.timers.splice(0)) t.cancel();
    this.round = 0;
    this.socket?.destroy();
    this.socket = undefined;
  }

  /** Ends the session with a Cease NOTIFICATION and stops for good. */
  close(): void {
    if (this.machine.is("closed")) return;
    const socket = this.socket;
    const established = this.machine.is("established");
    for (const t of this.timers.splice(0)) t.cancel();
    this.machine.moveTo("closed");
    this.socket = undefined;
    if (established && socket) {
      const cease = { code: ErrorCode.CEASE, subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN };
      socket.end(encodeNotification(cease));
    } else {
      socket?.destroy();
    }
  }
}
