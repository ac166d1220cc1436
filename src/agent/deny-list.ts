/**
 * Devices the gateway refused (BLOCK_IP). A blocked address is refused at accept time,
 * without asking the gateway again, until its TTL runs out. Time comes from the caller.
 */
export const DEFAULT_BLOCK_TTL_SECONDS = 1200;

interface Block {
  until: number;
  ttlSeconds: number;
}

export class DenyList {
  private readonly blocks = new Map<string, Block>();

  constructor(private readonly now: () => number) {}

  /**
   * Block `deviceIp` for `ttlSeconds` (the reference default of 1200 s when 0).
   * Returns true when the device was not blocked before, so the caller logs once per block.
   */
  block(deviceIp: string, ttlSeconds: number): boolean {
    const ttl = ttlSeconds > 0 ? ttlSeconds : DEFAULT_BLOCK_TTL_SECONDS;
    const wasBlocked = this.isBlocked(deviceIp);
    this.blocks.set(deviceIp, { until: this.now() + ttl * 1000, ttlSeconds: ttl });
    return !wasBlocked;
  }

  isBlocked(deviceIp: string): boolean {
    const block = this.blocks.get(deviceIp);
    if (!block) return false;
    if (block.until > this.now()) return true;
    this.blocks.delete(deviceIp);
    return false;
  }

  /** The TTL the current block was made with, if blocked. */
  ttlOf(deviceIp: string): number | undefined {
    return this.isBlocked(deviceIp) ? this.blocks.get(deviceIp)?.ttlSeconds : undefined;
  }

  unblock(deviceIp: string): void {
    this.blocks.delete(deviceIp);
  }

  /** Forget expired blocks; returns how many are still active. */
  prune(): number {
    const now = this.now();
    for (const [ip, block] of this.blocks) if (block.until <= now) this.blocks.delete(ip);
    return this.blocks.size;
  }

  get size(): number {
    return this.prune();
  }
}
