import { describe, expect, test } from "bun:test";
import { parseTomlInSlices } from "../../src/config/toml-slices.ts";

const parse = (t: string) => Bun.TOML.parse(t);
const sliced = (t: string) =>
  parseTomlInSlices(
    t,
    parse,
    "device",
    (e) => e,
    () => {},
    2,
  );

function outcome(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const devices = (n: number) =>
  Array.from({ length: n }, (_, i) => `[[device]]\nname = "d${i}"\n`).join("\n");

describe("parsing a long array of tables in slices", () => {
  const cases: [string, string][] = [
    ["plain", `[collector]\nasn = 1\n\n${devices(7)}`],
    ["a table after the devices", `${devices(5)}\n[collector]\nasn = 1\n`],
    ["more accounts after the devices", `[[account]]\na = 1\n${devices(5)}\n[[account]]\na = 2\n`],
    ["a header inside a multi-line string", `${devices(3)}x = """\n[[device]]\n"""\n${devices(3)}`],
    ["an inline array then headers", `device = [{ name = "x" }]\n${devices(5)}`],
    [
      "a table defined twice across slices",
      `[collector]\na = 1\n${devices(5)}\n[collector]\nb = 2\n`,
    ],
    ["a syntax error in a late slice", `${devices(5)}\nname = \n`],
    ["sub-tables of devices", `${devices(3)}[device.peer]\nasn = 2\n${devices(3)}`],
  ];
  for (const [name, text] of cases) {
    test(`${name}: the same answer as one parse`, () => {
      expect(outcome(() => sliced(text))).toEqual(outcome(() => parse(text)));
    });
  }

  test("entries are mapped in file order, with their index", () => {
    const seen: number[] = [];
    const root = parseTomlInSlices(
      devices(5),
      parse,
      "device",
      (e, i) => {
        seen.push(i);
        return { i, name: (e as { name: string }).name };
      },
      () => {},
      2,
    ) as { device: { i: number; name: string }[] };
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(root.device.map((d) => d.name)).toEqual(["d0", "d1", "d2", "d3", "d4"]);
  });
});
