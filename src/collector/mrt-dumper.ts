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
import { writeMrtSnapshot } from "./mrt-snapshot.ts";
import type { RibDirectory } from "./rib-directory.ts";

/**
 * Periodic MRT TABLE_DUMP_V2 files of every device's Adj-RIB-In: every `intervalSeconds`
 * one file per device, `<device>.<YYYYMMDD>T<HHMMSS>Z.mrt` in `dir` (written to a
 * `.tmp` name, then renamed, so readers never see half a file), keeping the newest `keep`
 * per device. A failed dump is logged and retried at the next interval.
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

  /** Dump every device now; returns the files written. */
  dumpAll(): string[] {
    const written: string[] = [];
    const now = this.clock.now();
    for (const source of this.ribs.all()) {
      const name = mrtFileName(source.device, now);
      const path = join(this.config.dir, name);
      const tmp = `${path}.tmp`;
      try {
        const fd = openSync(tmp, "w", 0o644);
        let totals: { records: number; bytes: number };
        try {
          totals = writeMrtSnapshot(
            source,
            { collectorId: this.collectorId, now: Math.floor(now / 1000) },
            (chunk) => {
              let at = 0;
              while (at < chunk.length) at += writeSync(fd, chunk, at);
            },
          );
        } finally {
          closeSync(fd);
        }
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
      }
    }
    return written;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.schedule(this.config.intervalSeconds * 1000, () => {
      this.dumpAll();
      this.arm();
    });
  }
}
