import type { Http2Session, Http2Stream } from "node:http2";
import type { Clock, TimerHandle } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { noteStreamHeld } from "../core/process-gc-pacer.ts";
import { InternalsWatch } from "./internals-watch.ts";

/**
 * Makes an HTTP/2 stream's flow-control window follow what its reader really consumed,
 * under Bun's `node:http2`.
 *
 * Bun tells its native HTTP/2 session to read a stream (and so to send WINDOW_UPDATE for
 * every byte received so far) on each "resume" event, and to stop on "pause" or when the
 * stream's readable buffer is full. grpc-js pauses a call's stream after every message and
 * resumes it when it wants the next one, while the stream's buffer may still hold several
 * MiB. Every resume thus re-opens the window for data nobody has read yet, and a slow reader
 * never holds a fast sender back (bench/results/2026-11-27.md: 200 MiB held at the gateway).
 *
 * The gate replaces Bun's "resume" handler on one stream: the native side is told to read
 * again only when the stream is flowing and its readable buffer is empty, i.e. when every
 * byte received so far was handed to grpc-js. What can be held per stream is then one
 * flow-control window plus what grpc-js queued. Under Node (no such handler) the gate does
 * nothing: Node's window already follows consumption.
 */
type Listener = (...args: unknown[]) => void;

/** How often a session's connection window is topped up while one of its streams is held. */
export const CONNECTION_TOP_UP_MS = 100;

/**
 * A stream held this long is held back by its far end (grpc-js pauses a stream after every
 * message, so short holds are a fast transfer's rhythm; a slow far end holds for seconds).
 */
export const HELD_BACK_MS = 250;

/**
 * Keeps an HTTP/2 session's connection-level receive window open while the read gate holds
 * one of its streams. Under Bun 1.4.5 the connection window is only handed back as held
 * streams resume their native reads, so the bytes a stalled stream holds (up to its own
 * window) also hold the connection window, and every other stream of the connection stops
 * once it is used up (DEVELOPERS.md, "Data path: KEEPALIVE tail and head-of-line"). Setting
 * the session's local window size again (to a different value: Bun ignores a repeated one)
 * sends the connection WINDOW_UPDATE; each stream stays bounded by its own window.
 * Its timer runs on the clock of the gate that first held one of the session's streams.
 *
 * A stream held for HELD_BACK_MS is held back by its far end: the process's GC pacer may
 * collect what the burst before it left (`noteStreamHeld`).
 */
class ConnectionWindowTopUp {
  /** Held streams, with when each was last seen going from read to held (clock ms). */
  private readonly held = new Map<Http2Stream, number>();
  private timer?: TimerHandle;
  private flip = false;
  private readonly size: number;

  constructor(
    private readonly session: Http2Session,
    private readonly clock: Clock,
  ) {
    this.size = Math.max(session.state?.localWindowSize ?? 0, 65_535);
  }

  /** Called on each gate update: cheap, as grpc-js pauses a stream after every message. */
  set(stream: Http2Stream, held: boolean): void {
    if (!held) this.held.delete(stream);
    else if (!this.held.has(stream)) this.held.set(stream, this.clock.now());
    if (this.held.size > 0 && this.timer === undefined) this.arm();
  }

  private arm(): void {
    this.timer = this.clock.schedule(CONNECTION_TOP_UP_MS, () => this.tick());
  }

  /** Tops up every CONNECTION_TOP_UP_MS; stops once nothing is held (or the session is gone). */
  private tick(): void {
    this.timer = undefined;
    const session = this.session;
    if (this.held.size === 0 || session.destroyed || session.closed) {
      this.held.clear();
      return;
    }
    this.flip = !this.flip;
    try {
      session.setLocalWindowSize(this.size + (this.flip ? 1 : 0));
    } catch {
      // the session is going away
    }
    const now = this.clock.now();
    let since = now;
    for (const at of this.held.values()) since = Math.min(since, at);
    if (now - since >= HELD_BACK_MS) noteStreamHeld();
    this.arm();
  }
}

const topUps = new WeakMap<Http2Session, ConnectionWindowTopUp>();

function topUpFor(stream: Http2Stream, clock: Clock): ConnectionWindowTopUp | undefined {
  const session = stream.session;
  if (!session || typeof session.setLocalWindowSize !== "function") return undefined;
  let topUp = topUps.get(session);
  if (!topUp) {
    topUp = new ConnectionWindowTopUp(session, clock);
    topUps.set(session, topUp);
  }
  return topUp;
}

export class Http2ReadGate {
  private reading = true;
  private readonly topUp: ConnectionWindowTopUp | undefined;

  private constructor(
    private readonly stream: Http2Stream,
    private readonly nativeResume: Listener,
    clock: Clock,
  ) {
    this.topUp = topUpFor(stream, clock);
    stream.removeListener("resume", nativeResume);
    stream.on("resume", () => this.update());
    stream.on("pause", () => this.update());
    stream.on("data", () => this.update());
    stream.on("close", () => this.topUp?.set(stream, false));
  }

  /**
   * Gate `stream` if it is one of Bun's; undefined otherwise (Node, or already gated).
   * `clock` runs the connection-window top-up timer.
   */
  static install(stream: Http2Stream, clock: Clock): Http2ReadGate | undefined {
    const resume = stream.listeners("resume");
    const pause = stream.listeners("pause");
    if (resume.length !== 1 || pause.length !== 1) return undefined;
    const nativeResume = resume[0] as Listener;
    if (nativeResume.name !== "streamOnResume") return undefined;
    return new Http2ReadGate(stream, nativeResume, clock);
  }

  private update(): void {
    const s = this.stream;
    if (s.destroyed) return;
    if (s.readableFlowing === true && s.readableLength === 0) {
      if (!this.reading) {
        this.reading = true;
        this.nativeResume.call(s);
      }
    } else {
      // Bytes wait in the buffer or the stream is paused: Bun has stopped (or will stop,
      // when the buffer fills) the native reads; they restart only once all was consumed.
      this.reading = false;
    }
    this.topUp?.set(s, !this.reading);
  }
}

const CALL_LINKS = ["call", "nextCall", "child", "underlyingCalls", "http2Stream", "stream"];

/**
 * The HTTP/2 stream under a grpc-js call object (server or client side), found by following
 * grpc-js's internal links (call → nextCall → child → … → http2Stream). Undefined when a
 * grpc-js upgrade renamed them.
 */
export function findHttp2Stream(call: object): Http2Stream | undefined {
  const seen = new Set<object>();
  const queue: Array<{ value: object; depth: number }> = [{ value: call, depth: 0 }];
  while (queue.length > 0) {
    const item = queue.shift();
    if (!item || seen.has(item.value)) continue;
    seen.add(item.value);
    const v = item.value as Record<string, unknown>;
    if (item.depth > 0 && typeof v.respond === "function" && "rstCode" in v)
      return v as unknown as Http2Stream; // a server stream
    if (item.depth > 0 && typeof v.priority === "function" && "rstCode" in v && "id" in v)
      return v as unknown as Http2Stream; // a client stream
    if (item.depth >= 8) continue;
    for (const key of CALL_LINKS) {
      const next = v[key];
      if (Array.isArray(next)) {
        for (const entry of next) {
          if (entry && typeof entry === "object")
            queue.push({
              value: (entry as { call?: object }).call ?? entry,
              depth: item.depth + 1,
            });
        }
      } else if (next && typeof next === "object")
        queue.push({ value: next, depth: item.depth + 1 });
    }
  }
  return undefined;
}

/**
 * What `gateCallReads` did: "gated"; "not-bun" (Node: nothing to gate); or why no gate
 * went in under Bun: "no-stream" (grpc-js's links to the HTTP/2 stream were renamed) or
 * "no-native-resume" (Bun's "resume" handler is not the one the gate knows).
 */
export type ReadGateOutcome = "gated" | "not-bun" | "no-stream" | "no-native-resume";

/** The runtime (`process.versions.bun` present) is Bun. */
const onBun = (): boolean => typeof process.versions.bun === "string";

/**
 * Counts the Data calls left ungated under Bun and warns once: an upgrade of grpc-js or Bun
 * that renames the internals the gate reaches must not silently bring back the unbounded
 * buffering the gate exists to prevent (bench/results/2026-11-27.md). `missed`: calls left
 * ungated under Bun.
 */
export class ReadGateWatch extends InternalsWatch {
  constructor(logger: Logger) {
    super(
      logger,
      "cannot gate HTTP/2 reads of a Data stream (grpc-js or Bun internals changed): a slow far end may now buffer without bound",
    );
  }

  record(outcome: ReadGateOutcome): void {
    if (outcome !== "gated" && outcome !== "not-bun") this.miss({ reason: outcome });
  }
}

/**
 * Gate the HTTP/2 stream under a grpc-js call and let the call's readable side queue one
 * message, not sixteen (each can be up to 512 KiB). Returns what it did, also told to `watch`.
 * `clock` runs the gate's timers (the connection-window top-up).
 */
export function gateCallReads(
  call: object,
  watch: ReadGateWatch | undefined,
  clock: Clock,
  isBun: () => boolean = onBun,
): ReadGateOutcome {
  const state = (call as { _readableState?: { highWaterMark: number } })._readableState;
  if (state && state.highWaterMark > 1) state.highWaterMark = 1;
  const outcome = gateOutcome(call, clock, isBun);
  watch?.record(outcome);
  return outcome;
}

function gateOutcome(call: object, clock: Clock, isBun: () => boolean): ReadGateOutcome {
  if (!isBun()) return "not-bun";
  const stream = findHttp2Stream(call);
  if (stream === undefined) return "no-stream";
  return Http2ReadGate.install(stream, clock) === undefined ? "no-native-resume" : "gated";
}
