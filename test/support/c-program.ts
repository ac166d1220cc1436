/**
 * Small C programs compiled at test time with the system's gcc (the kernel-struct probe, the
 * signed-connection generator). `gccSkipReason` is "" when gcc and the C headers work, else
 * why tests that need them are skipped (put it in the describe name).
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir, removeTempDir } from "./tempdir.ts";

const FIXTURES = resolve(import.meta.dir, "..", "fixtures", "native");

function probeGcc(): string {
  if (Bun.which("gcc") === null) return "gcc not installed (Debian packages gcc, libc6-dev)";
  const dir = makeTempDir("gcc-probe");
  const src = join(dir, "t.c");
  writeFileSync(src, "#include <linux/tcp.h>\n#include <stdio.h>\nint main(void){return 0;}\n");
  const r = Bun.spawnSync(["gcc", "-o", join(dir, "t"), src], { stderr: "pipe" });
  removeTempDir(dir);
  if (r.exitCode !== 0) {
    return `gcc cannot build against the C and kernel headers (libc6-dev): ${r.stderr.toString().trim().split("\n")[0]}`;
  }
  return "";
}

export const gccSkipReason = probeGcc();
export const gccAvailable = gccSkipReason === "";
/** " [skipped: ...]" when gcc is unusable, "" otherwise. */
export const gccSkipNote = gccAvailable ? "" : ` [skipped: ${gccSkipReason}]`;

const built = new Map<string, string>();

/** Compile test/fixtures/native/<name>.c once per process; returns the executable's path. */
export function buildFixture(name: string): string {
  const done = built.get(name);
  if (done) return done;
  const dir = makeTempDir(`c-${name}`);
  const out = join(dir, name);
  const r = Bun.spawnSync(
    ["gcc", "-O1", "-Wall", "-Werror", "-o", out, join(FIXTURES, `${name}.c`)],
    {
      stderr: "pipe",
    },
  );
  if (r.exitCode !== 0) throw new Error(`gcc ${name}.c failed:\n${r.stderr.toString()}`);
  built.set(name, out);
  return out;
}
