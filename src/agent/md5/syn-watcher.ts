import type { Clock, TimerHandle } from "../../core/clock.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { FiveTuple } from "../../proto/messages.ts";
import { parseSynPacket, type SynPacket } from "./syn-packet.ts";

/**
 * Watches the SYNs routers send to the agent's listeners, from a capture socket whose kernel
 * filter already kept only SYNs (no ACK) to the listen ports. Each SYN is parsed, matched
 * against the listeners' addresses, and a signed one (TCP-MD5 or TCP-AO option) is handed on.
 * It also remembers which connections were signed, so that admission can refuse an unsigned
 * connection from a device that has a key.
 *
 * Reading never blocks: the socket is non-blocking and signal-driven. The kernel raises SIGIO
 * when a packet arrives, Bun runs the handler on the event loop, and the handler drains the
 * socket (at most BATCH packets per turn, then it yields with setImmediate). Why signals:
 * - Bun cannot watch an arbitrary FFI file descriptor: `new net.Socket({fd})` fails on it,
 *   `Bun.connect({fd})`/`Bun.listen` expect stream sockets, and fs.watch (inotify) never fires
 *   for a socket.
 * - A timer that polls recv(MSG_DONTWAIT) costs a wake-up per tick while idle and adds up
 *   to a tick of latency; a worker blocking in recv costs a second JS heap (megabytes) on
 *   small routers and needs its own entry point in the compiled binary.
 * - O_ASYNC costs nothing while idle (no wake-up at all), has no added latency, and a
 *   burst costs one wake-up per event-loop turn, not per packet.
 * A slow sweep (every `sweepMs`, when no signal came in that period) drains as well, as
 * insurance against a lost wake-up; what it finds is counted in `packetsBySweep`, which stays 0
 * when signals work.
 */
export interface CaptureSource {
  /** One packet into `buf`: its length, or undefined when none is waiting. */
  receive(buf: Uint8Array): number | undefined;
  /** Register the readiness callback. */
  watch(onReadable: () => void): void;
  statistics(): { packets: number; drops: number };
  close(): void;
}

export interface WatchedListener {
  /** The bound address ("0.0.0.0" and "::" match any address of their family). */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface SynWatcherOptions {
  source: CaptureSource;
  listeners: () => readonly WatchedListener[];
  /** A SYN with a TCP-MD5 or TCP-AO option, to a listener. */
  onSignedSyn: (syn: SynPacket) => void;
  clock: Clock;
  logger: Logger;
  sweepMs?: number;
}

export interface SynWatcherStatus {
  /** SYNs to a listener. */
  syns: number;
  signedSyns: number;
  /** SYNs to an address or port no listener has. */
  foreign: number;
  /** Packets the parser refused. */
  malformed: number;
  /** Packets the kernel filter accepted (dropped ones included), and dropped for want of buffer. */
  captured: number;
  dropped: number;
  packetsBySweep: number;
}

export const SWEEP_MS = 1000;
const BATCH = 1024;
/** How long a signed SYN is remembered for admission, and how many. */
const SIGNED_MEMORY_MS = 120_000;
const SIGNED_MEMORY_MAX = 16_384;
const SNAP_BUFFER = 256;

function connectionKey(deviceIp: string, devicePort: number, proxyIp: string, proxyPort: number) {
  return `${deviceIp}|${devicePort}|${proxyIp}|${proxyPort}`;
}

export class SynWatcher {
  private readonly buf = new Uint8Array(SNAP_BUFFER);
  private readonly signed = new Map<string, number>();
  private sweepTimer?: TimerHandle;
  private drainScheduled = false;
  private closed = false;
  private readErrorLogged = false;
  private dropsReported = 0;
  private signals = 0;
  private signalsAtSweep = 0;
  private counts = { syns: 0, signedSyns: 0, foreign: 0, malformed: 0, packetsBySweep: 0 };

  constructor(private readonly options: SynWatcherOptions) {}

  start(): void {
    this.options.source.watch(() => {
      this.signals++;
      this.drain();
    });
    this.scheduleSweep();
    this.drain();
  }

  /** Read every waiting packet (up to BATCH now, the rest on the next turn); returns how many. */
  drain(): number {
    if (this.closed) return 0;
    let n = 0;
    for (; n < BATCH; n++) {
      let length: number | undefined;
      try {
        length = this.options.source.receive(this.buf);
      } catch (err) {
        if (!this.readErrorLogged) {
          this.readErrorLogged = true;
          this.options.logger.error(`SYN capture: ${errorMessage(err)}`);
        }
        break;
      }
      if (length === undefined) break;
      this.onPacket(this.buf.subarray(0, Math.min(length, this.buf.byteLength)));
    }
    if (n === BATCH && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => {
        this.drainScheduled = false;
        this.drain();
      });
    }
    return n;
  }

  /**
   * Whether the SYN of this connection carried a signature. The capture socket is drained
   * first: a SYN reaches it before TCP has even answered, so it is there by accept time.
   */
  wasSigned(tuple: FiveTuple): boolean {
    this.drain();
    const key = connectionKey(tuple.deviceIp, tuple.devicePort, tuple.proxyIp, tuple.proxyPort);
    const until = this.signed.get(key);
    return until !== undefined && until > this.options.clock.now();
  }

  status(): SynWatcherStatus {
    const { packets, drops } = this.options.source.statistics();
    return { ...this.counts, captured: packets, dropped: drops };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sweepTimer?.cancel();
    this.options.source.close();
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.options.clock.schedule(this.options.sweepMs ?? SWEEP_MS, () => {
      // Only after a period without any signal: otherwise signals work, and one may be on its
      // way for the packets waiting now.
      if (this.signals === this.signalsAtSweep) this.counts.packetsBySweep += this.drain();
      this.signalsAtSweep = this.signals;
      if (this.closed) return;
      const { drops } = this.options.source.statistics();
      if (drops > this.dropsReported) {
        this.options.logger.warn("SYN capture lost packets: its receive buffer was full", {
          dropped: drops - this.dropsReported,
          dropped_total: drops,
        });
        this.dropsReported = drops;
      }
      this.scheduleSweep();
    });
  }

  private onPacket(packet: Uint8Array): void {
    const parsed = parseSynPacket(packet);
    if (!parsed.ok) {
      this.counts.malformed++;
      this.options.logger.trace(`SYN capture: skipped a packet: ${parsed.reason}`);
      return;
    }
    const syn = parsed.syn;
    if (!this.toListener(syn)) {
      this.counts.foreign++;
      return;
    }
    this.counts.syns++;
    if (!syn.md5 && !syn.ao) return;
    this.counts.signedSyns++;
    this.remember(syn);
    this.options.onSignedSyn(syn);
  }

  private toListener(syn: SynPacket): boolean {
    return this.options
      .listeners()
      .some(
        (l) =>
          l.port === syn.destinationPort &&
          l.family === syn.family &&
          (l.host === syn.destination || l.host === "0.0.0.0" || l.host === "::"),
      );
  }

  private remember(syn: SynPacket): void {
    const key = connectionKey(syn.source, syn.sourcePort, syn.destination, syn.destinationPort);
    this.signed.delete(key);
    if (this.signed.size >= SIGNED_MEMORY_MAX) {
      const oldest = this.signed.keys().next().value;
      if (oldest !== undefined) this.signed.delete(oldest);
    }
    this.signed.set(key, this.options.clock.now() + SIGNED_MEMORY_MS);
  }
}
