/**
 * Single-file release binaries (`npm run build`):
 *
 *   bun scripts/build.ts [--target NAME]... [--out DIR] [--version V] [--no-xz]
 *
 * For each target (default: all four of scripts/packaging/targets.ts) runs
 * `bun build src/main.ts --compile` into DIR (default dist/) as bgproxy-<target>, with the
 * version stamped in (BGPROXY_VERSION, read by src/version.ts): `git describe --tags
 * --always --dirty`, or --version 1.2.3 for a build outside a git checkout. Then writes
 * bgproxy-<target>.xz beside it (unless --no-xz), SHA256SUMS and build-info.json (read by
 * scripts/package.ts), and prints sizes and times.
 *
 * Release flags: --minify (about 0.5 MB less), no source map, and no .env/bunfig.toml
 * autoloading (a daemon must not pick up a stray .env from its working directory). Not
 * used: --bytecode (CommonJS fails on src/main.ts's top-level await; ESM bytecode adds 4.4
 * MiB: bun scripts/size-report.ts); `strip` (removes the
 * appended program: the result is a bare Bun runtime that prints "1.4.5").
 * Cross-compiling downloads Bun's runtime for the target once (kept in Bun's cache).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import {
  type BuiltBinary,
  readBuildInfo,
  renderSums,
  sha256Hex,
  writeBuildInfo,
} from "./packaging/build-info.ts";
import {
  parseTag,
  type ReleaseVersions,
  readGitFacts,
  releaseVersions,
} from "./packaging/release-version.ts";
import { RUNTIME_BUN_FLAGS } from "./packaging/runtime-flags.ts";
import { binaryName, findTarget, hostArch, TARGETS, type Target } from "./packaging/targets.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;

interface Options {
  targets: Target[];
  out: string;
  version?: string;
  xz: boolean;
}

function usage(message: string): never {
  process.stderr.write(
    `build: ${message}\nusage: bun scripts/build.ts [--target NAME]... [--out DIR] [--version V] [--no-xz]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  const targets: Target[] = [];
  let out = join(ROOT, "dist");
  let version: string | undefined;
  let xz = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === "--target") {
      try {
        targets.push(findTarget(value()));
      } catch (err) {
        usage((err as Error).message);
      }
    } else if (arg === "--out") out = resolve(value());
    else if (arg === "--version") version = value();
    else if (arg === "--no-xz") xz = false;
    else usage(`unknown argument ${arg}`);
  }
  return { targets: targets.length > 0 ? targets : [...TARGETS], out, version, xz };
}

function versions(override: string | undefined): ReleaseVersions {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  if (override === undefined) return releaseVersions(readGitFacts(ROOT), pkg.version);
  // Outside a git checkout: a release version given by hand, as if it were a tag.
  try {
    parseTag(override);
  } catch (err) {
    usage(`--version: ${(err as Error).message}`);
  }
  return releaseVersions(
    {
      describe: override,
      tag: override,
      distance: 0,
      shortHash: "unknown",
      fullHash: "unknown",
      dirty: false,
      commitTime: Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000)),
    },
    pkg.version,
  );
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  console.log(`  ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

async function exec(argv: string[]): Promise<void> {
  const proc = Bun.spawn(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) {
    throw new Error(`${argv.join(" ")} failed (exit ${code}):\n${stdout}${stderr}`);
  }
}

async function compile(target: Target, version: string, outfile: string): Promise<void> {
  rmSync(outfile, { force: true });
  await exec([
    BUN,
    "build",
    "src/main.ts",
    "--compile",
    `--target=${target.bunTarget}`,
    "--minify",
    "--sourcemap=none",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    // Runtime flags (none today: --smol measured no gain, DEVELOPERS.md "Data path").
    ...(RUNTIME_BUN_FLAGS.length > 0 ? [`--compile-exec-argv=${RUNTIME_BUN_FLAGS.join(" ")}`] : []),
    "--define",
    `BGPROXY_VERSION=${JSON.stringify(version)}`,
    "--outfile",
    outfile,
  ]);
}

/** A glibc build for this machine's architecture runs here: check its stamp. */
function checkVersion(target: Target, file: string, version: string): void {
  if (target.libc !== "glibc" || target.arch !== hostArch()) return;
  const r = Bun.spawnSync([file, "--version"], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0 || out !== `bgproxy ${version}\n`) {
    throw new Error(`${file} --version printed ${JSON.stringify(out)} (exit ${r.exitCode})`);
  }
  console.log(`  ${relative(ROOT, file)} --version: ${out.trim()}`);
}

async function compressXz(file: string): Promise<void> {
  // Level 6 (xz's default), both cores; -k keeps the binary.
  await exec(["xz", "-6", "-T2", "-k", "-f", file]);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const v = versions(options.version);
  mkdirSync(options.out, { recursive: true });
  console.log(`bgproxy ${v.binary} (deb ${v.deb}, rpm ${v.rpm}, apk ${v.apk}); Bun ${Bun.version}`);
  if (options.xz && Bun.which("xz") === null) usage("xz is not installed (or pass --no-xz)");

  // Binaries of other targets from an earlier build stay listed, when their version matches.
  const previous = existsSync(join(options.out, "build-info.json"))
    ? readBuildInfo(options.out)
    : undefined;
  const kept = (previous?.versions.binary === v.binary ? previous.binaries : []).filter(
    (b) =>
      !options.targets.some((t) => t.name === b.target) && existsSync(join(options.out, b.file)),
  );

  const built: BuiltBinary[] = [];
  for (const target of options.targets) {
    const file = join(options.out, binaryName(target));
    console.log(`${target.name} (${target.bunTarget})`);
    await step(`compiled ${relative(ROOT, file)}`, () => compile(target, v.binary, file));
    checkVersion(target, file, v.binary);
    const data = await Bun.file(file).bytes();
    let xz: BuiltBinary["xz"];
    if (options.xz) {
      await step(`compressed ${relative(ROOT, file)}.xz`, () => compressXz(file));
      const xzData = await Bun.file(`${file}.xz`).bytes();
      xz = { file: `${binaryName(target)}.xz`, bytes: xzData.length, sha256: sha256Hex(xzData) };
    } else {
      rmSync(`${file}.xz`, { force: true });
    }
    built.push({
      target: target.name,
      file: binaryName(target),
      bunTarget: target.bunTarget,
      bytes: statSync(file).size,
      sha256: sha256Hex(data),
      ...(xz ? { xz } : {}),
    });
  }

  const binaries = [...kept, ...built].sort(
    (a, b) =>
      TARGETS.findIndex((t) => t.name === a.target) - TARGETS.findIndex((t) => t.name === b.target),
  );
  writeBuildInfo(options.out, { versions: v, bunVersion: Bun.version, binaries });
  const sums = binaries.flatMap((b) => [
    { name: b.file, sha256: b.sha256 },
    ...(b.xz ? [{ name: b.xz.file, sha256: b.xz.sha256 }] : []),
  ]);
  writeFileSync(join(options.out, "SHA256SUMS"), renderSums(sums));

  console.log(`\n${"binary".padEnd(26)} ${"size".padStart(10)} ${"xz -6".padStart(10)}`);
  for (const b of binaries) {
    console.log(
      `${b.file.padEnd(26)} ${mib(b.bytes).padStart(10)} ${(b.xz ? mib(b.xz.bytes) : "-").padStart(10)}`,
    );
  }
  console.log(`\nwrote ${relative(ROOT, options.out)}/SHA256SUMS and build-info.json`);
}

if (import.meta.main) {
  await main().catch((err: unknown) => {
    process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
