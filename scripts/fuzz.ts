/**
 * Mutation-based fuzzing of the pure decoders: BGP framing and messages, UPDATE and path
 * attributes, a whole collector session (BgpSpeaker), the protobuf codec and the gateway's
 * TOML loader (scripts/fuzz/targets.ts).
 *
 *   bun scripts/fuzz.ts [--seconds N] [--target a,b] [--seed S] [--corpus DIR]
 *   npm run fuzz -- --seconds 60
 *
 * First every input kept in the corpus (test/fixtures/fuzz/<target>/*.bin: earlier
 * crashes) is replayed; then for N seconds (default 60, shared by the targets in turn)
 * inputs are mutated from the seeds and the corpus. Guidance is by outcome, not coverage
 * (Bun exposes no coverage to a running program): an input whose outcome (result kind or
 * error message) is new joins the working set. A crash is any exception other than a
 * typed BgpProxyError, an internal error in the speaker, an MD5 key or a line break in a
 * config error, or an input that takes over a second of CPU; each new one is written to the
 * corpus as crash-<sha1>.bin and printed. Exit 1 when any input crashed, replayed or new.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { prng } from "../test/support/prng.ts";
import { Mutator } from "./fuzz/mutator.ts";
import { FuzzCrash, type FuzzTarget, TARGETS } from "./fuzz/targets.ts";

const ROOT = resolve(import.meta.dir, "..");
const SLOW_MS = 1_000;
const MAX_WORKING_SET = 4_000;

export interface Options {
  seconds: number;
  targets: FuzzTarget[];
  seed: number;
  corpus: string;
}

function usage(message: string): never {
  process.stderr.write(
    `fuzz: ${message}\nusage: bun scripts/fuzz.ts [--seconds N] [--target ${TARGETS.map((t) => t.name).join(",")}] [--seed S] [--corpus DIR]\n`,
  );
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    seconds: 60,
    targets: [...TARGETS],
    seed: Date.now() >>> 0,
    corpus: join(ROOT, "test", "fixtures", "fuzz"),
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag = "", inline] = (argv[i] as string).split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    switch (flag) {
      case "--seconds":
        o.seconds = Number(value());
        if (!(o.seconds >= 0)) usage("--seconds must be a number >= 0");
        break;
      case "--target": {
        const names = value().split(",");
        o.targets = names.map(
          (n) => TARGETS.find((t) => t.name === n) ?? usage(`unknown target ${n}`),
        );
        break;
      }
      case "--seed":
        o.seed = Number(value()) >>> 0;
        break;
      case "--corpus":
        o.corpus = resolve(value());
        break;
      default:
        usage(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  return o;
}

export interface Finding {
  message: string;
  file: string;
}

/** Runs one input; a crash or a slow input comes back as its description. */
function execute(target: FuzzTarget, input: Uint8Array): { outcome?: string; crash?: string } {
  const start = performance.now();
  try {
    // Numbers blanked: "offset 17" and "offset 18" are the same outcome.
    const outcome = target.run(input).replace(/\d+/g, "N");
    const ms = performance.now() - start;
    // Wall time lies on a busy machine: a slow input is run again and timed in CPU.
    if (ms > SLOW_MS) {
      const cpu0 = process.cpuUsage();
      target.run(input);
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (cpuMs > SLOW_MS) {
        return { crash: `slow: ${cpuMs.toFixed(0)} ms of CPU for ${input.length} bytes` };
      }
    }
    return { outcome };
  } catch (err) {
    if (err instanceof FuzzCrash) {
      const stack = err.original instanceof Error ? err.original.stack : err.stack;
      return { crash: `${err.message}\n${stack ?? ""}` };
    }
    return { crash: `harness error: ${err instanceof Error ? err.stack : String(err)}` };
  }
}

function corpusFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".bin"))
    .sort()
    .map((f) => join(dir, f));
}

function keep(dir: string, input: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  const file = join(
    dir,
    `crash-${createHash("sha1").update(input).digest("hex").slice(0, 16)}.bin`,
  );
  if (!existsSync(file)) writeFileSync(file, input);
  return file;
}

/** The first line of a crash, numbers blanked: one report per distinct bug. */
function signature(crash: string): string {
  return (crash.split("\n")[0] ?? "").replace(/\d+/g, "N").slice(0, 120);
}

export interface TargetResult {
  readonly target: string;
  readonly execs: number;
  readonly outcomes: number;
  readonly workingSet: number;
  readonly newCrashes: number;
  readonly replayCrashes: number;
}

export interface FuzzResult {
  readonly targets: TargetResult[];
  readonly findings: Finding[];
}

/** Replays the corpus, then fuzzes for `o.seconds` or `o.execsPerTarget` inputs per target. */
export function fuzz(o: Options & { execsPerTarget?: number; quiet?: boolean }): FuzzResult {
  const say = (text: string) => {
    if (!o.quiet) process.stdout.write(text);
  };
  const random = prng(o.seed);
  const findings: Finding[] = [];
  say(`fuzz: seed ${o.seed}, ${o.seconds} s, targets ${o.targets.map((t) => t.name).join(", ")}\n`);

  const state = o.targets.map((target) => {
    const dir = join(o.corpus, target.name);
    const working: Uint8Array[] = target.seeds();
    let replayCrashes = 0;
    for (const file of corpusFiles(dir)) {
      const input = Uint8Array.from(readFileSync(file));
      const r = execute(target, input);
      if (r.crash) {
        replayCrashes++;
        findings.push({ message: `${target.name}: ${r.crash}`, file });
      }
      working.push(input);
    }
    const outcomes = new Set(working.map((w) => execute(target, w).outcome ?? "crash"));
    return {
      target,
      dir,
      working,
      outcomes,
      mutator: new Mutator(random, target.dictionary),
      execs: 0,
      crashes: new Set<string>(),
      replayCrashes,
    };
  });

  const deadline = performance.now() + o.seconds * 1000;
  const SLICE_MS = 250;
  const limit = o.execsPerTarget ?? Number.POSITIVE_INFINITY;
  const more = () => state.some((s) => s.execs < limit);
  while (performance.now() < deadline && more()) {
    for (const s of state) {
      const sliceEnd = Math.min(performance.now() + SLICE_MS, deadline);
      while (performance.now() < sliceEnd && s.execs < limit) {
        for (let k = 0; k < 64 && s.execs < limit; k++) {
          const base = s.working[Math.floor(random() * s.working.length)] as Uint8Array;
          const other = s.working[Math.floor(random() * s.working.length)];
          const input = s.mutator.mutate(base, other);
          const r = execute(s.target, input);
          s.execs++;
          if (r.crash) {
            const sig = signature(r.crash);
            if (s.crashes.has(sig)) continue;
            s.crashes.add(sig);
            const file = keep(s.dir, input);
            findings.push({ message: `${s.target.name}: ${r.crash}`, file });
            say(`\nCRASH ${s.target.name}: ${r.crash}\n  input kept in ${file}\n`);
          } else if (r.outcome !== undefined && !s.outcomes.has(r.outcome)) {
            s.outcomes.add(r.outcome);
            if (s.working.length < MAX_WORKING_SET) s.working.push(input);
          }
        }
      }
    }
  }

  return {
    targets: state.map((s) => ({
      target: s.target.name,
      execs: s.execs,
      outcomes: s.outcomes.size,
      workingSet: s.working.length,
      newCrashes: s.crashes.size,
      replayCrashes: s.replayCrashes,
    })),
    findings,
  };
}

function main(): void {
  const o = parseOptions(process.argv.slice(2));
  const { targets, findings } = fuzz(o);
  const seconds = Math.max(o.seconds, 0.001);
  const out = [
    "",
    "| target | execs | execs/s | outcomes | working set | new crashes | corpus replay crashes |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const t of targets) {
    out.push(
      `| ${t.target} | ${t.execs} | ${Math.round(t.execs / seconds)} | ${t.outcomes} | ${t.workingSet} | ${t.newCrashes} | ${t.replayCrashes} |`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
  if (findings.length > 0) {
    process.stdout.write(`\n${findings.length} crashing input(s):\n`);
    for (const f of findings) process.stdout.write(`- ${f.file}\n  ${f.message.split("\n")[0]}\n`);
    process.exit(1);
  }
  process.stdout.write("\nno crashes\n");
}

if (import.meta.main) main();
