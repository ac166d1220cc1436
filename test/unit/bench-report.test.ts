/**
 * The benchmark's results (scripts/bench/report.ts): every scenario starts from one empty
 * result, and a scenario that threw becomes a broken result that the report shows.
 */
import { describe, expect, test } from "bun:test";
import { emptyResult, failedResult, renderScenario } from "../../scripts/bench/report.ts";

describe("bench report", () => {
  test("an empty result has nothing measured and nothing broken", () => {
    const r = emptyResult("latency", "4. Added latency");
    expect(r).toEqual({
      id: "latency",
      title: "4. Added latency",
      broken: [],
      warnings: [],
      tables: [],
      headlines: [],
      targets: [],
      notes: [],
      seconds: 0,
    });
    // Each call gives its own lists (scenarios push into them).
    emptyResult("a", "a").notes.push("x");
    expect(emptyResult("a", "a").notes).toEqual([]);
  });

  test("a failed scenario is broken with the error's first line, the message kept in a note", () => {
    const message = `bird did not start\n${"detail ".repeat(1_000)}`;
    const r = failedResult("rib", message);
    expect(r.id).toBe("rib");
    expect(r.title).toBe("rib");
    expect(r.broken).toEqual(["the scenario failed: bird did not start"]);
    expect(r.notes).toEqual([`\`\`\`\n${message.slice(0, 3000)}\n\`\`\``]);
    expect(r.headlines).toEqual([]);
    expect(renderScenario(r)).toContain("**BROKEN**: the scenario failed: bird did not start");
  });
});
