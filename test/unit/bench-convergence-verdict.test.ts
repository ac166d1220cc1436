import { describe, expect, test } from "bun:test";
import { median } from "../../scripts/bench/figures.ts";
import { perRoundRatios } from "../../scripts/bench/scenario-convergence.ts";

describe("convergence verdict: per-round ratios", () => {
  const run = (path: "direct" | "socat" | "bgproxy", round: number, seconds: number) => ({
    path,
    round,
    seconds,
  });

  test("pairs bgproxy with the other path of the same round", () => {
    const runs = [
      run("direct", 1, 6),
      run("socat", 1, 7),
      run("bgproxy", 1, 6.6),
      run("direct", 2, 8),
      run("socat", 2, 10),
      run("bgproxy", 2, 9.6),
    ];
    expect(perRoundRatios(runs, "direct").map((q) => q.toFixed(2))).toEqual(["1.10", "1.20"]);
    expect(perRoundRatios(runs, "socat").map((q) => q.toFixed(2))).toEqual(["0.94", "0.96"]);
  });

  test("a round slower for every path does not move the verdict", () => {
    // Rounds 1, 2 and 4 alike; in round 3 every process ran 40 % slower, in round 5 the
    // direct path alone was fast.
    const runs = [1, 2, 3, 4, 5].flatMap((round) => {
      const slow = round === 3 ? 1.4 : 1;
      return [
        run("direct", round, (round === 5 ? 5 : 6) * slow),
        run("bgproxy", round, 6.6 * slow),
      ];
    });
    expect(median(perRoundRatios(runs, "direct")).toFixed(2)).toBe("1.10");
    // Without a socat run there is nothing to pair with.
    expect(perRoundRatios(runs, "socat")).toEqual([]);
    expect(median(perRoundRatios(runs, "socat"))).toBeNaN();
  });

  test("a round that failed for one path is left out", () => {
    const runs = [run("direct", 1, 6), run("bgproxy", 1, 6.6), run("bgproxy", 2, 30)];
    expect(perRoundRatios(runs, "direct")).toHaveLength(1);
  });
});
