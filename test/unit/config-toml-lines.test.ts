import { describe, expect, test } from "bun:test";
import { syntaxErrorLine, TomlLines } from "../../src/config/toml-lines.ts";

const TEXT = `# comment
[[account]]
email = "a@example.net"

[[account]]
email = "b@example.net"

[collector]
asn = 64512
hold_time = 90

[[device]]
name = "r1"

[[device]]
name = "r2"
forward_source = "2001:db8::1"
`;

function parses(text: string): boolean {
  try {
    Bun.TOML.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe("TomlLines", () => {
  const lines = new TomlLines(TEXT);

  test("finds tables, array entries and keys", () => {
    expect(lines.lineOf("account")).toBe(2);
    expect(lines.lineOf("account[2]")).toBe(5);
    expect(lines.lineOf("account[2].email")).toBe(6);
    expect(lines.lineOf("collector")).toBe(8);
    expect(lines.lineOf("collector.hold_time")).toBe(10);
    expect(lines.lineOf("device[2].forward_source")).toBe(17);
  });

  test("falls back to the enclosing table", () => {
    expect(lines.lineOf("device[1].site")).toBe(12);
    expect(lines.lineOf("collector.nothing")).toBe(8);
    expect(lines.lineOf("nothing")).toBeUndefined();
  });

  test("skips multi-line strings, handles dotted and quoted keys and sub-tables", () => {
    const text = 's = """\nx = 1\n"""\n[[a]]\n"q k".b = 2\n[a.sub]\nz = 3\n[[a]]\nw = 4\n';
    const l = new TomlLines(text);
    expect(l.lineOf("x")).toBeUndefined();
    expect(l.lineOf("a[1].q k.b")).toBe(5);
    expect(l.lineOf("a[1].sub.z")).toBe(7);
    expect(l.lineOf("a[2].w")).toBe(9);
  });

  test("CRLF line ends count the same", () => {
    expect(new TomlLines(TEXT.replaceAll("\n", "\r\n")).lineOf("device[2].name")).toBe(16);
  });
});

describe("syntaxErrorLine", () => {
  test("points at the bad line", () => {
    expect(syntaxErrorLine(TEXT.replace("hold_time = 90", "hold_time ="), parses)).toBe(10);
    expect(syntaxErrorLine(TEXT.replace('name = "r2"', 'name = "r2'), parses)).toBe(16);
    expect(syntaxErrorLine(TEXT.replace("[collector]", "[collector"), parses)).toBe(8);
  });

  test("points at the start of a multi-line value holding the error", () => {
    const text = "a = 1\nb = [\n  1,\n  2 3,\n]\n[t]\nc = 1\n";
    expect(syntaxErrorLine(text, parses)).toBe(2);
  });

  test("finds an error in the last table of a long file", () => {
    const devices = Array.from({ length: 500 }, (_, i) => `[[device]]\nname = "r${i}"\n`);
    const text = `${devices.join("\n")}[[device]]\nname = = "bad"\n`;
    expect(syntaxErrorLine(text, parses)).toBe(1501);
  });
});
