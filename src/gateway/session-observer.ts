import { Afi, MessageType, Safi } from "../bgp/constants.ts";
import { BgpFramer } from "../bgp/framer.ts";
import { type BgpOpen, decodeOpen } from "../bgp/open.ts";
import { decodeUpdate, type UpdateDecodeOptions } from "../bgp/update.ts";
import { RouteCounter } from "../collector/route-counter.ts";
import type { SpeakerMonitor } from "../collector/speaker-options.ts";
import type { SessionEvents } from "./device-tracker.ts";

/**
 * Watches a forwarded session's bytes, both ways, without touching them: whether BGP is
 * Established (OPEN and KEEPALIVE seen in each direction, no NOTIFICATION since), and the
 * router's UPDATEs and prefixes. The daemon owns the session; anything the observer cannot
 * parse only stops the observing, never the relay. What it sees is reported to the
 * session's `SessionEvents` (state on each change, counts on each UPDATE).
 */
type Direction = "router" | "daemon";

export class SessionObserver {
  private readonly framers: Record<Direction, BgpFramer> = {
    router: new BgpFramer(),
    daemon: new BgpFramer(),
  };
  private readonly opens: Partial<Record<Direction, BgpOpen>> = {};
  private readonly confirmed: Record<Direction, boolean> = { router: false, daemon: false };
  private counter = new RouteCounter();
  private decodeOptions?: UpdateDecodeOptions;
  private broken?: string;
  updates = 0;

  /** Whole OPEN messages, for the monitor's Peer Up. */
  private readonly openMessages: Partial<Record<Direction, Uint8Array>> = {};

  constructor(
    private readonly events?: Pick<SessionEvents, "state" | "counts">,
    /** Told what the session does, as BMP reports it (the gateway's BMP feed). */
    private readonly monitor?: SpeakerMonitor,
  ) {}

  /** The relay ended: an Established session is over (no NOTIFICATION seen). */
  ended(): void {
    if (this.established) this.monitor?.down({ local: false });
    this.broken ??= "the session ended";
  }

  private onChange(): void {
    if (!this.events) return;
    this.events.state(this.established);
    this.events.counts(this.updates, this.prefixes);
  }

  get established(): boolean {
    return this.confirmed.router && this.confirmed.daemon;
  }

  get prefixes(): { ipv4: number; ipv6: number } {
    return { ipv4: this.counter.table.ipv4, ipv6: this.counter.table.ipv6 };
  }

  /** Why observing stopped, if it did. */
  get stoppedBecause(): string | undefined {
    return this.broken;
  }

  fromRouter(chunk: Uint8Array): void {
    this.observe("router", chunk);
  }

  fromDaemon(chunk: Uint8Array): void {
    this.observe("daemon", chunk);
  }

  private observe(direction: Direction, chunk: Uint8Array): void {
    if (this.broken) return;
    try {
      for (const frame of this.framers[direction].push(chunk))
        this.onMessage(direction, frame.type, frame.body, frame.message);
    } catch (err) {
      this.broken = (err as Error).message;
      this.reset();
    }
  }

  private onMessage(
    direction: Direction,
    type: number,
    body: Uint8Array,
    message: Uint8Array,
  ): void {
    switch (type) {
      case MessageType.OPEN:
        this.opens[direction] = decodeOpen(body);
        if (this.monitor) this.openMessages[direction] = message;
        this.confirmed[direction] = false;
        this.decodeOptions = undefined;
        break;
      case MessageType.KEEPALIVE:
        if (this.opens[direction] && !this.confirmed[direction]) {
          this.confirmed[direction] = true;
          this.onChange();
          const { router, daemon } = this.openMessages;
          if (this.established && router && daemon) {
            this.monitor?.up({
              receivedOpen: router,
              sentOpen: daemon,
              fourOctetAs: this.options().fourOctetAs,
            });
          }
        }
        break;
      case MessageType.NOTIFICATION:
        if (this.established)
          this.monitor?.down({ local: direction === "daemon", notification: message });
        this.reset();
        break;
      case MessageType.UPDATE:
        if (direction === "router" && this.established) {
          this.updates++;
          const update = decodeUpdate(body, this.options());
          this.counter.apply(update);
          this.monitor?.update(message, update);
          this.onChange();
        }
        break;
      default:
        break;
    }
  }

  /** How the router's UPDATEs are encoded, from what both OPENs advertised. */
  private options(): UpdateDecodeOptions {
    if (this.decodeOptions) return this.decodeOptions;
    const router = this.opens.router?.capabilities;
    const daemon = this.opens.daemon?.capabilities;
    const addPath = (afi: number) =>
      Boolean(
        router?.addPath.some(
          (f) => f.afi === afi && f.safi === Safi.UNICAST && (f.sendReceive & 2) !== 0,
        ) &&
          daemon?.addPath.some(
            (f) => f.afi === afi && f.safi === Safi.UNICAST && (f.sendReceive & 1) !== 0,
          ),
      );
    this.decodeOptions = {
      fourOctetAs: router?.fourOctetAs !== undefined && daemon?.fourOctetAs !== undefined,
      addPath: { ipv4: addPath(Afi.IPV4), ipv6: addPath(Afi.IPV6) },
    };
    return this.decodeOptions;
  }

  private reset(): void {
    const was = this.established;
    this.confirmed.router = false;
    this.confirmed.daemon = false;
    this.opens.router = undefined;
    this.opens.daemon = undefined;
    this.counter = new RouteCounter();
    this.decodeOptions = undefined;
    if (was) this.onChange();
  }
}
