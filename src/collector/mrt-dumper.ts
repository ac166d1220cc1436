import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { MrtDumpConfig } from "../config/types.ts";
import type { Clock, TimerHandle } from "../core/clock.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type MrtSnapshotTotals, mrtChunks } from "./mrt-snapshot.ts";
import type { RibDirectory } from "./rib-directory.ts";
import { RibSnapshot } from "./rib-snapshot.ts";

/**
 * Periodic MRT TABLE_DUMP_V2 files of every device's Adj-RIB-In: every `intervalSeconds`
 * one file per device, `<device>.<YYYYMMDD>T<HHMMSS>Z.mrt` in `dir` (written to a
 * `.tmp` name, then renamed, so readers never see half a file), keeping the newest `keep`
 * per device. Files are written from a RibSnapshot a chunk per event-loop turn, so a
 * full table does not stall the gateway. A failed dump is logged and retried at the next
 * interval.
 */
export function mrtFileName(device: string, epochMs: number): string {
  const safe = device.replace(/[^A-Za-z0-9_-]/g, "_");
  const t = new Date(epochMs).toISOString().replace(/[-:]/g, "").slice(0, 15);
  return `${safe}.${t}Z.mrt`;
}

/** The files of `device` in `names` that rotation removes, keeping the newest `keep`. */
export function filesToRotate(names: readonly string[], device: string, keep: number): string[] {
  const prefix = `${device.replace(/[^A-Za-z0-9_-]/g, "_")}.`;
  const mine = names
    .filter((n) => n.startsWith(prefix) && /^\d{8}T\d{6}Z\.mrt$/.test(n.slice(prefix.length)))
    .sort();
  return mine.slice(0, Math.max(0, mine.length - keep));
}

export class MrtDumper {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private running: Promise<string[]> | undefined;

  constructor(
    private readonly config: MrtDumpConfig,
    private readonly ribs: RibDirectory,
    private readonly collectorId: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    mkdirSync(this.config.dir, { recursive: true });
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /**
   * Dump every device now, a chunk per event-loop turn; resolves with the files written.
   * A dump still running when the next interval comes is not doubled.
   */
  dumpAll(): Promise<string[]> {
    if (this.running) return this.running;
    this.running = this.dumpEach().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no dump is running. */
  async idle(): Promise<void> {
    await this.running;
  }

  private async dumpEach(): Promise<string[]> {
    const written: string[] = [];
    const now = this.clock.now();
    for (const source of this.ribs.all()) {
      const path = join(this.config.dir, mrtFileName(source.device, now));
      const tmp = `${path}.tmp`;
      const snap = new RibSnapshot(source.rib);
      try {
        const fd = openSync(tmp, "w", 0o644);
        let totals: MrtSnapshotTotals;
        try {
          const it = mrtChunks(source, snap, {
            collectorId: this.collectorId,
            now: Math.floor(now / 1000),
          });
          for (;;) {
            const r = it.next();
            if (r.done) {
              totals = r.value;
              break;
            }
            let at = 0;
            while (at < r.value.length) at += writeSync(fd, r.value, at);
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        } finally {
          closeSync(fd);
        }
        if (!snap.valid) throw new Error("the session ended during the dump");
        renameSync(tmp, path);
        written.push(path);
        this.logger.info("MRT dump written", {
          device: source.device,
          file: path,
          records: totals.records,
          bytes: totals.bytes,
          ms: this.clock.now() - now,
        });
        for (const old of filesToRotate(
          readdirSync(this.config.dir),
          source.device,
          this.config.keep,
        )) {
          rmSync(join(this.config.dir, old), { force: true });
        }
      } catch (err) {
        rmSync(tmp, { force: true });
        this.logger.warn("MRT dump failed", { device: source.device, error: errorMessage(err) });
      } finally {
        snap.release();
      }
    }
    return written;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.schedule(this.config.intervalSeconds * 1000, () => {
      void this.dumpAll();
      this.arm();
    });
  }
}
