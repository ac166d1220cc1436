/**
 * test/support/test-cleanups.ts, which every component test uses to stop what it started:
 * newest first, awaited, all of them even when one throws, and the test still fails. And the
 * last-resort registry (test/support/cleanup.ts): what is still registered when a `bun test`
 * run ends is removed then (test/support/run-end.ts, preloaded by bunfig.toml).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanupsAfterEach, runCleanups } from "../support/test-cleanups.ts";

describe("runCleanups", () => {
  test("newest first, each awaited before the next", async () => {
    const order: string[] = [];
    await runCleanups([
      () => order.push("first"),
      async () => {
        await Bun.sleep(5);
        order.push("second");
      },
      () => order.push("third"),
    ]);
    expect(order).toEqual(["third", "second", "first"]);
  });

  test("one that throws does not stop the others; the first error is rethrown", async () => {
    const ran: number[] = [];
    const run = runCleanups([
      () => ran.push(1),
      () => {
        throw new Error("older");
      },
      async () => {
        ran.push(3);
        throw new Error("newer");
      },
    ]);
    await expect(run).rejects.toThrow("newer");
    expect(ran).toEqual([3, 1]);
  });
});

// The afterEach it registers: the first test pushes, the second sees them run.
const cleanups = cleanupsAfterEach();
const ranAfter: string[] = [];

describe("cleanupsAfterEach", () => {
  test("pushes (several at once) ...", () => {
    cleanups.push(
      () => ranAfter.push("a"),
      () => ranAfter.push("b"),
    );
    cleanups.push(() => ranAfter.push("c"));
    expect(ranAfter).toEqual([]);
  });

  test("... run after the test, newest first, and only once", () => {
    expect(ranAfter).toEqual(["c", "b", "a"]);
  });

  test("nothing left to run from earlier tests", () => {
    expect(ranAfter).toEqual(["c", "b", "a"]);
  });
});

describe("the end of a bun test run", () => {
  const ROOT = resolve(import.meta.dir, "..", "..");
  /** `bun test` the probe in ROOT (so bunfig.toml applies unless `config` replaces it). */
  const probe = (config?: string) => {
    const argv = [process.execPath, "test"];
    if (config) argv.push(`--config=${config}`);
    argv.push("./test/fixtures/support/run-end-probe.ts");
    const r = Bun.spawnSync(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const out = `${r.stdout.toString()}${r.stderr.toString()}`;
    const dir = /^dir (\S+)$/m.exec(out)?.[1];
    expect(r.exitCode).toBe(0);
    expect(dir).toBeString();
    return dir as string;
  };

  test("removes the temporary directories still registered", () => {
    expect(existsSync(probe())).toBe(false);
  });

  test("without the preload (an empty bunfig) they stay: bun test emits no exit event", () => {
    const scratch = mkdtempSync(join(tmpdir(), "bgpx-bunfig-"));
    try {
      const config = join(scratch, "bunfig.toml");
      writeFileSync(config, "");
      const dir = probe(config);
      expect(existsSync(dir)).toBe(true);
      rmSync(dir, { recursive: true, force: true });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
