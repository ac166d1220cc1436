/** Temporary directories that disappear when the test (or, failing that, the process) ends. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onProcessExit } from "./cleanup.ts";

const unregisters = new Map<string, () => void>();

/** Create a fresh directory such as /tmp/bgpx-bird-Ab12Cd; removed by `removeTempDir` or at exit. */
export function makeTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bgpx-${label}-`));
  unregisters.set(
    dir,
    onProcessExit(() => rmSync(dir, { recursive: true, force: true })),
  );
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  unregisters.get(dir)?.();
  unregisters.delete(dir);
}
