/**
 * Build, package and prove it (`npm run test:package`; CI runs it after `npm test`):
 *
 *   bun scripts/package-test.ts [--no-build] [FILTER...] [bun test flags...]
 *
 * 1. as root with apt-get, installs the missing Debian packages of
 *    scripts/package-apt-packages.txt (BGPROXY_SKIP_APT=1 turns that off);
 * 2. unless --no-build: scripts/build.ts (all targets, with .xz) then scripts/package.ts;
 * 3. `bun test test/package` (FILTERs select files), counted from its JUnit report as
 *    scripts/test-run.ts counts; a failed build or packaging counts as one failure. The
 *    feed proofs build the real opkg, apk-tools 3 and usign from ../shared/tools/
 *    pkg-managers (beside the clone) and report themselves skipped when it is absent; the
 *    image proofs need buildah (both about a minute).
 * Prints the time of each step and ends with `N passed, N failed, N skipped`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { countJunit } from "./test-run.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const TEST_DIR = "test/package";
const TEST_FILE = new Bun.Glob("**/*.test.ts");

const tally = { passed: 0, failed: 0, skipped: 0, failures: [] as string[] };
const timings: [string, number][] = [];

function header(text: string): void {
  console.log(`\n=== ${text} ===`);
}

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings.push([name, (performance.now() - started) / 1000]);
  }
}

async function step(argv: string[]): Promise<boolean> {
  console.log(`$ ${argv.join(" ")}`);
  const proc = Bun.spawn(argv, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  return (await proc.exited) === 0;
}

function aptPackages(): string[] {
  return readFileSync(join(ROOT, "scripts", "package-apt-packages.txt"), "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

function installed(pkg: string): boolean {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's field syntax
  const r = Bun.spawnSync(["dpkg-query", "-W", "-f=${Status}", pkg], {
    stdout: "pipe",
    stderr: "pipe",
  });
  return r.exitCode === 0 && r.stdout.toString().includes("install ok installed");
}

async function ensureAptPackages(): Promise<void> {
  if (process.env.BGPROXY_SKIP_APT === "1") return;
  if (Bun.which("apt-get") === null || Bun.which("dpkg-query") === null) {
    console.log("no apt-get here: not installing; tests needing missing tools are skipped");
    return;
  }
  const missing = aptPackages().filter((p) => !installed(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.log(`not root: not installing ${missing.join(" ")}; tests needing them are skipped`);
    return;
  }
  console.log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Package scripts must not start daemons.
  const policy = "/usr/sbin/policy-rc.d";
  const added = !existsSync(policy);
  if (added) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const run = async (argv: string[]) =>
      (await Bun.spawn(argv, { stdout: "inherit", stderr: "inherit", env }).exited) === 0;
    if (!(await run(["apt-get", "update"])))
      console.log("apt-get update failed; trying the install anyway");
    if (!(await run(["apt-get", "install", "-y", "--no-install-recommends", ...missing]))) {
      console.log("apt-get install failed; tests needing those tools are skipped");
    }
  } finally {
    if (added) unlinkSync(policy);
  }
}

async function runTests(filters: string[], bunArgs: string[], reportDir: string): Promise<void> {
  const files = [...TEST_FILE.scanSync({ cwd: join(ROOT, TEST_DIR) })]
    .map((f) => `./${join(TEST_DIR, f)}`)
    .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
    .sort();
  if (files.length === 0) {
    console.log("(no test file matches the filter)");
    return;
  }
  const report = join(reportDir, "package.xml");
  const argv = [
    BUN,
    "test",
    "--timeout=300000",
    "--reporter=junit",
    `--reporter-outfile=${report}`,
    ...bunArgs,
    ...files,
  ];
  console.log(`$ bun ${argv.slice(1).join(" ")}`);
  const proc = Bun.spawn(argv, { cwd: ROOT, stdout: "inherit", stderr: "pipe" });
  const watchdog = setTimeout(() => proc.kill("SIGKILL"), 30 * 60_000);
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    process.stderr.write(chunk);
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-65_536);
  }
  const code = await proc.exited;
  clearTimeout(watchdog);
  const before = tally.failed;
  if (!existsSync(report)) {
    tally.failed += 1;
    tally.failures.push(`bun test wrote no JUnit report (exit ${code})`);
    return;
  }
  const counts = countJunit(readFileSync(report, "utf8"));
  tally.passed += counts.passed;
  tally.skipped += counts.skipped;
  tally.failed += counts.failed;
  tally.failures.push(...counts.failures);
  const reported = Number(tail.match(/^\s*(\d+) fail\s*$/m)?.[1] ?? 0);
  for (let i = counts.failed; i < reported; i++) {
    tally.failed += 1;
    tally.failures.push("error outside a test (load error or unhandled error; see output)");
  }
  if (code !== 0 && tally.failed === before) {
    tally.failed += 1;
    tally.failures.push(`bun test exited with code ${code}`);
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const build = !argv.includes("--no-build");
  const filters = argv.filter((a) => !a.startsWith("-"));
  const bunArgs = argv.filter((a) => a.startsWith("-") && a !== "--no-build");

  header("[1/4] Debian packages for the package proofs");
  await timed("apt", ensureAptPackages);

  let built = true;
  header("[2/4] build: bun scripts/build.ts");
  if (!build) console.log("(skipped: --no-build)");
  else if (!(await timed("build", () => step([BUN, "scripts/build.ts"])))) {
    built = false;
    tally.failed += 1;
    tally.failures.push("build (scripts/build.ts)");
  }
  header("[3/4] package: bun scripts/package.ts");
  if (!build) console.log("(skipped: --no-build)");
  else if (!built) console.log("(skipped: the build failed)");
  else if (!(await timed("package", () => step([BUN, "scripts/package.ts"])))) {
    tally.failed += 1;
    tally.failures.push("package (scripts/package.ts)");
  }

  header(`[4/4] tests: ${TEST_DIR}`);
  const reportDir = mkdtempSync(join(tmpdir(), "bgpx-junit-"));
  try {
    await timed("tests", () => runTests(filters, bunArgs, reportDir));
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }

  header("summary");
  for (const [name, seconds] of timings) console.log(`  ${name.padEnd(8)} ${seconds.toFixed(1)} s`);
  if (tally.failures.length > 0) {
    console.log("failed:");
    for (const f of tally.failures) console.log(`  ✗ ${f}`);
  }
  console.log(`${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`);
  return tally.failed > 0 ? 1 : 0;
}

if (import.meta.main) process.exit(await main());
