import { describe, expect, test } from "bun:test";
import { ProcessRoles } from "../../src/core/process-roles.ts";

describe("ProcessRoles (src/core/process-roles.ts)", () => {
  test("the owner sees what the roles present want after every join and stop, in joining order", () => {
    const seen: string[][] = [];
    const roles = new ProcessRoles<string>((wants) => seen.push([...wants]));
    const stopAgent = roles.join("agent");
    const stopGateway = roles.join("gateway");
    stopAgent();
    expect(roles.wants).toEqual(["gateway"]);
    const stopAgain = roles.join("agent");
    stopGateway();
    stopAgain();
    expect(seen).toEqual([
      ["agent"],
      ["agent", "gateway"],
      ["gateway"],
      ["gateway", "agent"],
      ["agent"],
      [],
    ]);
  });

  test("a stop is idempotent: a second call neither removes another role nor tells the owner", () => {
    let changes = 0;
    const roles = new ProcessRoles<string>(() => changes++);
    const stopAgent = roles.join("agent");
    roles.join("gateway");
    stopAgent();
    stopAgent();
    expect(roles.wants).toEqual(["gateway"]);
    expect(changes).toBe(3);
  });

  test("two roles wanting the same thing are two roles", () => {
    const roles = new ProcessRoles<string>(() => {});
    const first = roles.join("same");
    roles.join("same");
    first();
    expect(roles.wants).toEqual(["same"]);
  });
});
