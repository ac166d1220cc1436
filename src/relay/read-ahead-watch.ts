import type { Logger } from "../core/logger.ts";

/**
 * Counts the relayed sockets whose read-ahead could not be limited to one chunk
 * (`readOneChunkAhead` in stream-relay.ts sets a private field of the socket's readable
 * state) and warns once: a Bun upgrade that renames the field must not silently bring back
 * the leaky read pacing (~150,000 tiny reads per full table instead of ~2,000; DEVELOPERS.md,
 * "Data path: convergence, session 6"). One per process role, as ReadGateWatch.
 */
export class ReadAheadWatch {
  private missedCount = 0;
  private warned = false;

  constructor(private readonly logger: Logger) {}

  /** Sockets relayed with an unlimited read-ahead since start. */
  get missed(): number {
    return this.missedCount;
  }

  /** `limited`: what `readOneChunkAhead` returned for one socket. */
  record(limited: boolean): void {
    if (limited) return;
    this.missedCount++;
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      "cannot limit a relayed socket's read-ahead to one chunk (Bun internals changed): read pacing no longer holds reads back",
    );
  }
}
