/**
 * BGP on the wire for the benchmark's own speakers (pump, sink, echo, ping, session swarm):
 * the OPEN they send and a message scanner fast enough to count a gigabyte of UPDATEs.
 *
 * The scanner checks what a receiver must (marker all ones, length 19..4096, known type)
 * without allocating per message: 1 GiB of ~70-octet UPDATEs is 15 million messages, and
 * src/bgp/framer.ts's frame objects would make the sink, not the path, the bottleneck.
 * Whole messages are handed to `onMessage` only for the types asked for.
 */
import { Afi, MessageType, Safi } from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen } from "../../src/bgp/open.ts";

export const KEEPALIVE = Buffer.from(encodeKeepalive());

/** An OPEN with IPv4 and IPv6 unicast, 4-octet AS and route refresh. */
export function benchOpen(asn: number, routerId: string, holdTime: number): Buffer {
  return Buffer.from(
    encodeOpen({
      asn,
      holdTime,
      routerId,
      capabilities: {
        multiprotocol: [
          { afi: Afi.IPV4, safi: Safi.UNICAST },
          { afi: Afi.IPV6, safi: Safi.UNICAST },
        ],
        routeRefresh: true,
      },
    }),
  );
}

export interface ScanTotals {
  bytes: number;
  messages: number;
  updates: number;
  keepalives: number;
  opens: number;
  notifications: number;
}

const MAX_LENGTH = 4096;
const HEADER = 19;
const ALL_ONES = 0xffffffff;

export class MessageScanner {
  readonly totals: ScanTotals = {
    bytes: 0,
    messages: 0,
    updates: 0,
    keepalives: 0,
    opens: 0,
    notifications: 0,
  };
  /** Set on the first malformed header; scanning stops there. */
  error?: string;
  private carry?: Buffer;

  /**
   * @param onMessage gets a copy-free view of each whole message whose type is in `wanted`
   *   (default: every type but UPDATE).
   */
  constructor(
    private readonly onMessage: (type: number, message: Buffer) => void = () => {},
    private readonly wanted: ReadonlySet<number> = new Set([
      MessageType.OPEN,
      MessageType.NOTIFICATION,
      MessageType.KEEPALIVE,
      MessageType.ROUTE_REFRESH,
    ]),
  ) {}

  push(chunk: Buffer): void {
    if (this.error) return;
    this.totals.bytes += chunk.length;
    let from = 0;
    if (this.carry) {
      // Finish the held-back message with the chunk's head (a message is at most 4096
      // octets), so the chunk itself is scanned in place, not copied.
      const held = this.carry.length;
      const head = Buffer.concat([this.carry, chunk.subarray(0, MAX_LENGTH)]);
      this.carry = undefined;
      const stop = this.scan(head, 0, held);
      if (this.error) return;
      if (stop < held) {
        // Still unfinished: then the chunk was shorter than a message and is all in `head`.
        this.carry = Buffer.from(head.subarray(stop));
        return;
      }
      from = stop - held;
    }
    const stop = this.scan(chunk, from, chunk.length);
    if (!this.error && stop < chunk.length) this.carry = Buffer.from(chunk.subarray(stop));
  }

  /** Count whole messages of `buf` starting before `limit`; returns where scanning stopped. */
  private scan(buf: Buffer, start: number, limit: number): number {
    let pos = start;
    const end = buf.length;
    while (pos < limit && end - pos >= HEADER) {
      if (
        buf.readUInt32LE(pos) !== ALL_ONES ||
        buf.readUInt32LE(pos + 4) !== ALL_ONES ||
        buf.readUInt32LE(pos + 8) !== ALL_ONES ||
        buf.readUInt32LE(pos + 12) !== ALL_ONES
      ) {
        this.error = `marker not all ones at message ${this.totals.messages + 1}`;
        return pos;
      }
      const length = ((buf[pos + 16] as number) << 8) | (buf[pos + 17] as number);
      const type = buf[pos + 18] as number;
      if (length < HEADER || length > MAX_LENGTH || type < 1 || type > 5) {
        this.error = `bad header (length ${length}, type ${type}) at message ${this.totals.messages + 1}`;
        return pos;
      }
      if (end - pos < length) break;
      this.count(type);
      if (this.wanted.has(type)) this.onMessage(type, buf.subarray(pos, pos + length));
      pos += length;
    }
    return pos;
  }

  /** Octets of an unfinished message held back. */
  get pending(): number {
    return this.carry?.length ?? 0;
  }

  private count(type: number): void {
    const t = this.totals;
    t.messages++;
    if (type === MessageType.UPDATE) t.updates++;
    else if (type === MessageType.KEEPALIVE) t.keepalives++;
    else if (type === MessageType.OPEN) t.opens++;
    else if (type === MessageType.NOTIFICATION) t.notifications++;
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
