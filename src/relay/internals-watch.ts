import type { Logger } from "../core/logger.ts";

/**
 * Counts the times a reach into a library's private internals (grpc-js's or Bun's) failed and
 * warns once: an upgrade that renames what the relay reaches must not silently bring back the
 * behaviour the reach exists to prevent. One per process role. The watches built on it:
 * ReadGateWatch (http2-read-gate.ts) and ReadAheadWatch (read-ahead-watch.ts).
 */
export class InternalsWatch {
  private missedCount = 0;
  private warned = false;

  constructor(
    private readonly logger: Logger,
    private readonly warning: string,
  ) {}

  /** Reaches that failed since start. */
  get missed(): number {
    return this.missedCount;
  }

  /** One reach failed; `fields` go with the one warning. */
  protected miss(fields?: Record<string, unknown>): void {
    this.missedCount++;
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(this.warning, fields);
  }
}
