/**
 * The HTTP/2 stream window of one connection, sized like TCP's receive-window autotuning:
 * small while a stream of the connection is held back by its far end, doubling while the
 * streams keep up, up to `max`. Each stream window is what one session can hold in the
 * receiving process while its far end reads slowly, and what crosses both processes at full
 * speed each time the window re-opens (DEVELOPERS.md, "Data path: slow far end memory
 * (session 6)"); a fast session still gets the whole window after a few windows' worth.
 *
 * Bun 1.4.5 has no per-stream window setting and its WINDOW_UPDATEs always hand back
 * everything received, so the size is the connection's SETTINGS_INITIAL_WINDOW_SIZE, which
 * the peer applies to every open stream of the connection (`apply`). Pure: the read gate
 * (src/relay/http2-read-gate.ts) tells it what arrived and when a stream is held.
 */
export interface StreamWindowLimits {
  /** The window while a stream is held back, and at the start, bytes. */
  min: number;
  /** The largest window, bytes. */
  max: number;
  /** The window doubles after this many windows' worth arrived without a hold. */
  growAfterWindows: number;
}

export class AdaptiveStreamWindow {
  private current: number;
  private sinceChange = 0;

  /** `apply` sets the connection's stream window (called with `limits.min` at once). */
  constructor(
    private readonly limits: StreamWindowLimits,
    private readonly apply: (size: number) => void,
  ) {
    if (!(limits.min > 0 && limits.min <= limits.max && limits.growAfterWindows > 0))
      throw new RangeError("AdaptiveStreamWindow: need 0 < min <= max and growAfterWindows > 0");
    this.current = limits.min;
    apply(limits.min);
  }

  /** The stream window now, bytes. */
  get size(): number {
    return this.current;
  }

  /** `bytes` of DATA arrived on a stream of the connection. */
  received(bytes: number): void {
    this.sinceChange += bytes;
    const { max, growAfterWindows } = this.limits;
    if (this.current < max && this.sinceChange >= growAfterWindows * this.current)
      this.set(Math.min(max, this.current * 2));
  }

  /** A stream of the connection is held back by its far end: back to the smallest window. */
  held(): void {
    if (this.current > this.limits.min) this.set(this.limits.min);
    else this.sinceChange = 0;
  }

  private set(size: number): void {
    this.current = size;
    this.sinceChange = 0;
    this.apply(size);
  }
}
