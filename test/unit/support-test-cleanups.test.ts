/**
 * test/support/test-cleanups.ts, which every component test uses to stop what it started:
 * newest first, awaited, all of them even when one throws, and the test still fails.
 */
import { describe, expect, test } from "bun:test";
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
