/**
 * The target systems' real package managers for the proofs: `apk` (apk-tools 3), `opkg`
 * (opkg-lede) and `usign`, built from the source snapshots in ../shared/tools/pkg-managers
 * (beside the clone; CI has it there) by its build.sh, once per machine (about 20 s; a
 * second call is a no-op). Absent folder: the tests report themselves skipped with the
 * reason. A failed build fails them.
 *
 * Also: root directories for offline installs, with a shell for the packages' scripts
 * (the host's busybox and the libraries it links, so that apk can run scripts in its chroot).
 */
import { copyFileSync, existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { run } from "../../support/process.ts";
import { ROOT } from "./artifacts.ts";

export const BUILD_SCRIPT = join(ROOT, "..", "shared", "tools", "pkg-managers", "build.sh");
const TOOLS_DIR = join(tmpdir(), "bgproxy-pkg-managers");

export interface PkgTools {
  readonly apk: string;
  readonly opkg: string;
  readonly usign: string;
}

/** " [skipped: ...]" for a describe name when the tools cannot be built here, or "". */
export function toolsMissing(): string {
  if (!existsSync(BUILD_SCRIPT)) {
    return " [skipped: ../shared/tools/pkg-managers/build.sh is not beside this clone]";
  }
  if (process.getuid?.() !== 0) return " [skipped: not root (build.sh installs build deps)]";
  return "";
}

let built: Promise<PkgTools> | undefined;

export function pkgTools(): Promise<PkgTools> {
  built ??= (async () => {
    await run(["bash", BUILD_SCRIPT, TOOLS_DIR], { timeoutMs: 600_000 });
    const bin = join(TOOLS_DIR, "bin");
    return { apk: join(bin, "apk"), opkg: join(bin, "opkg"), usign: join(bin, "usign") };
  })();
  return built;
}

/** The host's busybox as ROOT/bin/sh, with its loader and libraries. */
export async function installHostShell(root: string): Promise<void> {
  const busybox = Bun.which("busybox");
  if (busybox === null) throw new Error("busybox is not installed (Debian package busybox)");
  const ldd = await run(["ldd", busybox]);
  const libs = [...ldd.stdout.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1] ?? "");
  for (const lib of new Set(libs)) {
    const target = join(root, lib);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(lib), target);
  }
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync(busybox, join(root, "bin", "sh"));
}

/** Every file and link under `root` (relative paths), except those `skip` matches. */
export function listTree(root: string, skip: RegExp): string[] {
  const out: string[] = [];
  const glob = new Bun.Glob("**/*");
  for (const f of glob.scanSync({ cwd: root, dot: true, onlyFiles: true, followSymlinks: false })) {
    if (!skip.test(f)) out.push(f);
  }
  return out.sort();
}

/** An offline root for apk-tools 3 (x86_64) trusting `keyFiles` (name → PEM), with a shell. */
export async function offlineApkRoot(root: string, keyFiles: Record<string, string>) {
  mkdirSync(join(root, "etc/apk/keys"), { recursive: true });
  writeFileSync(join(root, "etc/apk/arch"), "x86_64\n");
  for (const [file, text] of Object.entries(keyFiles)) {
    writeFileSync(join(root, "etc/apk/keys", file), text);
  }
  await installHostShell(root);
  return root;
}

/** `apk --root ROOT --no-network --no-cache ARGS` (the exit code is the caller's to check). */
export function runApk(tools: PkgTools, root: string, ...args: string[]) {
  return run([tools.apk, "--root", root, "--no-network", "--no-cache", ...args], {
    check: false,
    timeoutMs: 300_000,
  });
}
