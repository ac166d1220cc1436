/**
 * The one test command (`npm test` → scripts/bootstrap.mjs → here).
 *
 *   bun scripts/test-run.ts [--no-static] [FILTER...] [bun test flags...]
 *
 * Steps: type check (tsc), format + lint + import cycles (biome), then `bun test` once per
 * tier (unit, component, e2e) with a per-test timeout fitting the tier. FILTERs are substrings
 * of test file paths (any matches); arguments starting with `-` go to `bun test` (e.g.
 * `-t NAME`, `--bail`). `--no-static` skips tsc and biome (they are then counted as skipped).
 *
 * Counting: each tier writes a JUnit report; every <testcase> counts once as failed (it holds
 * <failure> or <error>), skipped (<skipped>, which is also how Bun marks todo) or passed;
 * hooks (Bun lists them as "(unnamed)" cases without a line) count only when they fail. A
 * failing tsc or biome counts as one failed test each ("typecheck", "format-lint"). Failures
 * the report does not show (an error thrown while loading a file or between tests: Bun's
 * console summary counts more failures than the report), a non-zero exit with no failure
 * counted, a missing report and a tier killed by its watchdog each count as one failure.
 * The last line is `N passed, N failed, N skipped`; the exit code is 1 if anything failed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { sweepStale } from "../test/support/netns.ts";
import { isRoot, netnsAvailable } from "../test/support/root.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "node_modules", ".bin");

interface Tier {
  name: string;
  dir: string;
  /** bun test's per-test timeout. */
  testTimeoutMs: number;
  /** Wall-clock limit for the whole tier. */
  watchdogMs: number;
}

const TIERS: readonly Tier[] = [
  { name: "unit", dir: "test/unit", testTimeoutMs: 10_000, watchdogMs: 10 * 60_000 },
  { name: "component", dir: "test/component", testTimeoutMs: 30_000, watchdogMs: 20 * 60_000 },
  { name: "e2e", dir: "test/e2e", testTimeoutMs: 120_000, watchdogMs: 45 * 60_000 },
];

/** bun test flags that take a separate value argument. */
const VALUE_FLAGS = new Set([
  "-t",
  "--test-name-pattern",
  "--timeout",
  "--seed",
  "--retry",
  "--rerun-each",
  "--max-concurrency",
]);

const TEST_FILE = new Bun.Glob("**/*{.test,_test,.spec,_spec}.{ts,tsx,js,jsx,mjs,cjs}");

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

const tally: Tally = { passed: 0, failed: 0, skipped: 0, failures: [] };

function header(text: string): void {
  console.log(`\n=== ${text} ===`);
}

function fail(name: string): void {
  tally.failed += 1;
  tally.failures.push(name);
}

function parseArgs(argv: readonly string[]): {
  filters: string[];
  bunArgs: string[];
  staticChecks: boolean;
} {
  const filters: string[] = [];
  const bunArgs: string[] = [];
  let staticChecks = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--no-static") staticChecks = false;
    else if (VALUE_FLAGS.has(arg)) bunArgs.push(arg, argv[++i] ?? "");
    else if (arg.startsWith("-")) bunArgs.push(arg);
    else filters.push(arg);
  }
  return { filters, bunArgs, staticChecks };
}

/** Run a step with inherited output; true if it exited 0 within `limitMs`. */
async function runStep(argv: string[], limitMs: number): Promise<boolean> {
  console.log(`$ ${argv.map((a) => relative(ROOT, a) || a).join(" ")}`);
  const proc = Bun.spawn(argv, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), limitMs);
  const code = await proc.exited;
  clearTimeout(timer);
  if (proc.signalCode) console.log(`(killed: ${proc.signalCode})`);
  return code === 0 && !proc.signalCode;
}

function unescapeXml(s: string): string {
  return s
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'")
    .replaceAll(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replaceAll("&amp;", "&");
}

function attr(attrs: string, name: string): string {
  const m = attrs.match(new RegExp(`\\b${name}="([^"]*)"`));
  return m?.[1] === undefined ? "" : unescapeXml(m[1]);
}

function isHook(attrs: string): boolean {
  return attr(attrs, "name") === "(unnamed)" && !/\bline="/.test(attrs);
}

/** Count the <testcase> elements of a JUnit report (Bun escapes `<`, `>`, `"` in attributes). */
export function countJunit(xml: string): Tally {
  const result: Tally = { passed: 0, failed: 0, skipped: 0, failures: [] };
  const testcase = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(testcase)) {
    const attrs = m[1] ?? "";
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) {
      result.failed += 1;
      const suite = attr(attrs, "classname");
      const name = attr(attrs, "name");
      result.failures.push(`${attr(attrs, "file")}: ${suite ? `${suite} > ` : ""}${name}`);
    } else if (/<skipped\b/.test(body)) {
      // A skipped describe also lists its beforeAll/afterAll hooks as "(unnamed)" cases
      // without a line; they are not tests. (A failing hook does count, above.)
      if (!isHook(attrs)) result.skipped += 1;
    } else if (isHook(attrs)) {
      // hooks that ran fine are not tests either
    } else {
      result.passed += 1;
    }
  }
  return result;
}

/** Bun's console summary: " N fail" (includes errors outside tests), if printed. */
function consoleFailCount(output: string): number | undefined {
  const m = output.match(/^\s*(\d+) fail\s*$/m);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

async function runTier(
  tier: Tier,
  filters: readonly string[],
  bunArgs: readonly string[],
  reportDir: string,
): Promise<void> {
  const dir = join(ROOT, tier.dir);
  const files = existsSync(dir)
    ? [...TEST_FILE.scanSync({ cwd: dir })]
        .map((f) => `./${join(tier.dir, f)}`)
        .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
        .sort()
    : [];
  if (files.length === 0) {
    console.log(filters.length > 0 ? "(no test file matches the filter)" : "(no test files)");
    return;
  }
  if (tier.name === "e2e" && isRoot && netnsAvailable) {
    const stale = await sweepStale().catch(() => []);
    if (stale.length > 0) console.log(`removed stale namespaces: ${stale.join(" ")}`);
  }
  const report = join(reportDir, `${tier.name}.xml`);
  const argv = [
    join(BIN, "bun"),
    "test",
    "--no-orphans",
    `--timeout=${tier.testTimeoutMs}`,
    "--reporter=junit",
    `--reporter-outfile=${report}`,
    ...bunArgs,
    ...files,
  ];
  console.log(`$ bun ${argv.slice(1).join(" ")}`);
  const env = { ...process.env };
  if (process.stderr.isTTY && env.NO_COLOR === undefined) env.FORCE_COLOR = "1";
  const proc = Bun.spawn(argv, { cwd: ROOT, stdout: "inherit", stderr: "pipe", env });
  let killed = false;
  const watchdog = setTimeout(() => {
    killed = true;
    proc.kill("SIGKILL");
  }, tier.watchdogMs);
  // Pass bun's console output through and keep its tail for the summary lines.
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    process.stderr.write(chunk);
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-65_536);
  }
  const code = await proc.exited;
  clearTimeout(watchdog);

  const before = tally.failed;
  if (killed) fail(`${tier.name}: killed after ${tier.watchdogMs / 60_000} min (watchdog)`);
  if (!existsSync(report)) {
    fail(`${tier.name}: bun test wrote no JUnit report (exit ${code})`);
  } else {
    const counts = countJunit(readFileSync(report, "utf8"));
    tally.passed += counts.passed;
    tally.skipped += counts.skipped;
    tally.failed += counts.failed;
    tally.failures.push(...counts.failures.map((f) => `${tier.name}: ${f}`));
    const reported = consoleFailCount(tail) ?? 0;
    for (let i = counts.failed; i < reported; i++) {
      fail(`${tier.name}: error outside a test (load error or unhandled error; see output)`);
    }
  }
  if (code !== 0 && tally.failed === before)
    fail(`${tier.name}: bun test exited with code ${code}`);
}

async function main(): Promise<number> {
  const { filters, bunArgs, staticChecks } = parseArgs(process.argv.slice(2));
  const steps = 2 + TIERS.length;
  let step = 0;

  header(`[${++step}/${steps}] typecheck: tsc -p tsconfig.json`);
  if (!staticChecks) {
    console.log("(skipped: --no-static)");
    tally.skipped += 1;
  } else if (await runStep([join(BIN, "tsc"), "-p", "tsconfig.json"], 10 * 60_000)) {
    console.log("typecheck: ok");
    tally.passed += 1;
  } else fail("typecheck (tsc -p tsconfig.json)");

  header(`[${++step}/${steps}] format-lint: biome check .`);
  if (!staticChecks) {
    console.log("(skipped: --no-static)");
    tally.skipped += 1;
  } else if (await runStep([join(BIN, "biome"), "check", "."], 10 * 60_000)) {
    tally.passed += 1;
  } else fail("format-lint (biome check .)");

  const reportDir = mkdtempSync(join(tmpdir(), "bgpx-junit-"));
  try {
    for (const tier of TIERS) {
      header(
        `[${++step}/${steps}] tests: ${tier.name} (${tier.dir}, --timeout=${tier.testTimeoutMs})`,
      );
      await runTier(tier, filters, bunArgs, reportDir);
    }
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }

  header("summary");
  if (tally.failures.length > 0) {
    console.log("failed:");
    for (const f of tally.failures) console.log(`  ✗ ${f}`);
  }
  console.log(`${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`);
  return tally.failed > 0 ? 1 : 0;
}

if (import.meta.main) process.exit(await main());
