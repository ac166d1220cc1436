import { Afi, HEADER_LENGTH, MessageType, Safi } from "../bgp/constants.ts";
import { BgpMessageScanner, type MessageVisitor } from "../bgp/message-scanner.ts";
import type { PrefixVisitor } from "../bgp/nlri.ts";
import { type BgpOpen, decodeOpen } from "../bgp/open.ts";
import { decodeUpdate } from "../bgp/update.ts";
import { walkUpdatePrefixes } from "../bgp/update-prefix-walk.ts";
import { PrefixTable } from "../collector/prefix-table.ts";
import type { SpeakerMonitor } from "../collector/speaker-options.ts";
import type { SessionEvents } from "./device-tracker.ts";

/**
 * Watches a forwarded session's bytes, both ways, without touching them: whether BGP is
 * Established (OPEN and KEEPALIVE seen in each direction, no NOTIFICATION since), and the
 * router's UPDATEs and prefixes. The daemon owns the session; anything the observer cannot
 * parse only stops the observing, never the relay. What it sees is reported to the
 * session's `SessionEvents` (state on each change, counts once per chunk that held UPDATEs).
 *
 * It runs on every relayed byte, so it is kept cheap: messages are found in place
 * (BgpMessageScanner), UPDATEs are walked for their prefixes only (no attribute decoding or
 * validation, see walkUpdatePrefixes) into typed-array keys per prefix length (PrefixTable). The
 * counts stay exact for well-formed UPDATEs; RFC 7606 treat-as-withdraw is the daemon's
 * business and is not mirrored. Only a BMP monitor, when there is one, gets full decodings.
 */
type Direction = "router" | "daemon";

export class SessionObserver {
  private readonly scanners: Record<Direction, BgpMessageScanner> = {
    router: new BgpMessageScanner(),
    daemon: new BgpMessageScanner(),
  };
  private readonly visitors: Record<Direction, MessageVisitor> = {
    router: (type, buf, start, end) => this.onMessage("router", type, buf, start, end),
    daemon: (type, buf, start, end) => this.onMessage("daemon", type, buf, start, end),
  };
  private readonly opens: Partial<Record<Direction, BgpOpen>> = {};
  private readonly confirmed: Record<Direction, boolean> = { router: false, daemon: false };
  private readonly table = new PrefixTable();
  private addPath?: { ipv4: boolean; ipv6: boolean };
  private readonly sink: { announce: PrefixVisitor; withdraw: PrefixVisitor } = {
    announce: (afi, safi, length, buf, offset) => {
      if (safi === Safi.UNICAST) this.table.add(afi, length, buf, offset);
    },
    withdraw: (afi, safi, length, buf, offset) => {
      if (safi === Safi.UNICAST) this.table.remove(afi, length, buf, offset);
    },
  };
  private broken?: string;
  /** UPDATEs counted since the counts were last reported (once per chunk, not per UPDATE). */
  private countsChanged = false;
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
    return { ipv4: this.table.ipv4, ipv6: this.table.ipv6 };
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
      this.scanners[direction].push(chunk, this.visitors[direction]);
      if (this.countsChanged) {
        this.countsChanged = false;
        this.onChange();
      }
    } catch (err) {
      this.broken = (err as Error).message;
      this.reset();
    }
  }

  /** The body is buf[start, end); its 19-octet header precedes it. */
  private onMessage(
    direction: Direction,
    type: number,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    switch (type) {
      case MessageType.OPEN:
        this.opens[direction] = decodeOpen(buf.slice(start, end));
        // A copy: buf may be the scanner's carry buffer, reused for the next message.
        if (this.monitor) this.openMessages[direction] = buf.slice(start - HEADER_LENGTH, end);
        this.confirmed[direction] = false;
        this.addPath = undefined;
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
              fourOctetAs: this.fourOctetAs(),
            });
          }
        }
        break;
      case MessageType.NOTIFICATION:
        if (this.established) {
          this.monitor?.down({
            local: direction === "daemon",
            notification: buf.slice(start - HEADER_LENGTH, end),
          });
        }
        this.reset();
        break;
      case MessageType.UPDATE:
        if (direction === "router" && this.established) {
          this.updates++;
          walkUpdatePrefixes(buf, start, end, this.addPathFamilies(), this.sink);
          if (this.monitor) this.tellMonitor(buf.slice(start - HEADER_LENGTH, end));
          this.countsChanged = true;
        }
        break;
      default:
        break;
    }
  }

  /** The BMP feed wants each UPDATE decoded (only when a monitor is configured). */
  private tellMonitor(message: Uint8Array): void {
    const decoded = decodeUpdate(message.subarray(HEADER_LENGTH), {
      fourOctetAs: this.fourOctetAs(),
      addPath: this.addPathFamilies(),
    });
    this.monitor?.update(message, decoded);
  }

  /** Whether both OPENs advertised 4-octet AS numbers (RFC 6793). */
  private fourOctetAs(): boolean {
    return (
      this.opens.router?.capabilities.fourOctetAs !== undefined &&
      this.opens.daemon?.capabilities.fourOctetAs !== undefined
    );
  }

  /**
   * Whether the router's UPDATEs carry ADD-PATH identifiers, from what both OPENs advertised.
   * Called for every UPDATE: the negotiation (with its closures) is a function of its own,
   * run once; a closure here would make the engine allocate this call's scope on every call
   * until it optimizes the function, one object per UPDATE through a first burst.
   */
  private addPathFamilies(): { ipv4: boolean; ipv6: boolean } {
    this.addPath ??= negotiatedAddPath(
      this.opens.router?.capabilities,
      this.opens.daemon?.capabilities,
    );
    return this.addPath;
  }

  private reset(): void {
    const was = this.established;
    this.confirmed.router = false;
    this.confirmed.daemon = false;
    this.opens.router = undefined;
    this.opens.daemon = undefined;
    this.table.clear();
    this.addPath = undefined;
    if (was) this.onChange();
  }
}

/** ADD-PATH per family: the router may send (bit 2) and the daemon receive (bit 1) paths. */
function negotiatedAddPath(
  router: BgpOpen["capabilities"] | undefined,
  daemon: BgpOpen["capabilities"] | undefined,
): { ipv4: boolean; ipv6: boolean } {
  const addPath = (afi: number) =>
    Boolean(
      router?.addPath.some(
        (f) => f.afi === afi && f.safi === Safi.UNICAST && (f.sendReceive & 2) !== 0,
      ) &&
        daemon?.addPath.some(
          (f) => f.afi === afi && f.safi === Safi.UNICAST && (f.sendReceive & 1) !== 0,
        ),
    );
  return { ipv4: addPath(Afi.IPV4), ipv6: addPath(Afi.IPV6) };
}
