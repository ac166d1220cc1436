import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Mutator } from "../../scripts/fuzz/mutator.ts";
import { FuzzCrash, type FuzzTarget, TARGETS } from "../../scripts/fuzz/targets.ts";
import { fuzz } from "../../scripts/fuzz.ts";
import { prng } from "../support/prng.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";

const CORPUS = join(import.meta.dir, "..", "fixtures", "fuzz");
const temp = makeTempDir("fuzz");
afterAll(() => removeTempDir(temp));

describe("the fuzzer", () => {
  test("mutations are deterministic for a seed", () => {
    const input = Uint8Array.from({ length: 40 }, (_, i) => i);
    const run = () => {
      const m = new Mutator(prng(7), [Uint8Array.of(9, 9)]);
      return Array.from({ length: 50 }, () => Buffer.from(m.mutate(input, input)).toString("hex"));
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(40);
  });

  test("finds a planted crash and keeps its input in the corpus", () => {
    const planted: FuzzTarget = {
      name: "planted",
      seeds: () => [Uint8Array.of(1, 2, 3, 4)],
      dictionary: [],
      run: (input) => {
        if (input.includes(0x42)) throw new FuzzCrash("planted: saw 0x42");
        return `len:${input.length}`;
      },
    };
    const r = fuzz({
      seconds: 20,
      execsPerTarget: 20_000,
      targets: [planted],
      seed: 1,
      corpus: temp,
      quiet: true,
    });
    expect(r.findings.length).toBeGreaterThanOrEqual(1);
    const kept = readdirSync(join(temp, "planted"));
    expect(kept.some((f) => f.startsWith("crash-"))).toBe(true);
    // A second run replays the kept input first and reports it again.
    const again = fuzz({ seconds: 0, targets: [planted], seed: 2, corpus: temp, quiet: true });
    expect(again.targets[0]?.replayCrashes).toBeGreaterThanOrEqual(1);
  });

  test("every kept corpus input and a short seeded run crash no target", () => {
    expect(existsSync(CORPUS)).toBe(true);
    const replay = fuzz({
      seconds: 0,
      targets: [...TARGETS],
      seed: 1,
      corpus: CORPUS,
      quiet: true,
    });
    expect(replay.findings).toEqual([]);
    const r = fuzz({
      seconds: 30,
      execsPerTarget: 3_000,
      targets: [...TARGETS],
      seed: 20261206,
      corpus: join(temp, "run"),
      quiet: true,
    });
    expect(r.findings.map((f) => f.message.split("\n")[0])).toEqual([]);
    for (const t of r.targets) expect(t.execs).toBe(3_000);
  }, 60_000);
});
