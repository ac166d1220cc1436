/**
 * Line numbers for a TOML text, which Bun's TOML parser does not report: neither for
 * values (it returns plain objects) nor for syntax errors (its SyntaxError carries only a
 * message). Paths are written as errors show them: "collector.asn", "device[2].forward",
 * with array-of-tables entries counted from 1 in file order.
 */

type KeyPath = { parts: string[]; end: number };

/** Reads a dotted key ("a", "a.b", '"x y".z') starting at `pos`; undefined if none. */
function readKeyPath(text: string, pos: number): KeyPath | undefined {
  const parts: string[] = [];
  let i = pos;
  for (;;) {
    while (text[i] === " " || text[i] === "\t") i++;
    const c = text[i];
    if (c === '"' || c === "'") {
      const close = text.indexOf(c, i + 1);
      if (close < 0) return undefined;
      parts.push(text.slice(i + 1, close));
      i = close + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(text.slice(i));
      if (!m) return undefined;
      parts.push(m[0]);
      i += m[0].length;
    }
    while (text[i] === " " || text[i] === "\t") i++;
    if (text[i] !== ".") return { parts, end: i };
    i++;
  }
}

/** Where each table header and key of a TOML text is, by display path. */
export class TomlLines {
  private readonly lines = new Map<string, number>();

  constructor(text: string) {
    const arrayCounts = new Map<string, number>();
    // Joins key parts into a display path, adding the current index of array tables.
    const resolve = (parts: readonly string[], base = ""): string => {
      let path = base;
      for (const part of parts) {
        path = path === "" ? part : `${path}.${part}`;
        const count = arrayCounts.get(path);
        if (count !== undefined) path = `${path}[${count}]`;
      }
      return path;
    };
    let table = "";
    let openString: string | undefined;
    text.split(/\r?\n/).forEach((line, index) => {
      const lineNo = index + 1;
      if (openString !== undefined) {
        if (line.includes(openString)) openString = undefined;
        return;
      }
      const t = line.trim();
      if (t === "" || t.startsWith("#")) return;
      if (t.startsWith("[[")) {
        const key = readKeyPath(t, 2);
        if (!key) return;
        const parent = resolve(key.parts.slice(0, -1));
        const plain = parent === "" ? (key.parts.at(-1) ?? "") : `${parent}.${key.parts.at(-1)}`;
        const count = (arrayCounts.get(plain) ?? 0) + 1;
        arrayCounts.set(plain, count);
        this.record(plain, lineNo);
        table = `${plain}[${count}]`;
        this.record(table, lineNo);
      } else if (t.startsWith("[")) {
        const key = readKeyPath(t, 1);
        if (!key) return;
        table = resolve(key.parts);
        this.record(table, lineNo);
      } else {
        const key = readKeyPath(t, 0);
        if (!key || t[key.end] !== "=") return;
        this.record(resolve(key.parts, table), lineNo);
        const value = t.slice(key.end + 1).trimStart();
        for (const quotes of ['"""', "'''"]) {
          if (value.startsWith(quotes) && !value.slice(3).includes(quotes)) openString = quotes;
        }
      }
    });
  }

  private record(path: string, line: number): void {
    if (!this.lines.has(path)) this.lines.set(path, line);
  }

  /** The line of `path`, or of the nearest enclosing table or key that has one. */
  lineOf(path: string): number | undefined {
    let p = path;
    while (p !== "") {
      const line = this.lines.get(p);
      if (line !== undefined) return line;
      const parent = p.replace(/(\.[^.[\]]*|\[\d+\])$/, "");
      if (parent === p) break;
      p = parent;
    }
    return undefined;
  }
}

/**
 * The line where a TOML syntax error is: the first line after the longest prefix of the
 * text that still parses. Binary search over table-header boundaries (a text that fails
 * before a header fails after it too), then a line scan inside that one table.
 */
export function syntaxErrorLine(text: string, parses: (text: string) => boolean): number {
  const lines = text.split(/\r?\n/);
  const prefixOk = (n: number) => parses(lines.slice(0, n).join("\n"));
  const boundaries = [0];
  lines.forEach((line, i) => {
    if (i > 0 && line.trimStart().startsWith("[")) boundaries.push(i);
  });
  boundaries.push(lines.length);
  let lo = 0;
  let hi = boundaries.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (prefixOk(boundaries[mid] ?? 0)) lo = mid;
    else hi = mid;
  }
  const from = boundaries[lo] ?? 0;
  let lastOk = from;
  for (let n = from + 1; n <= (boundaries[hi] ?? lines.length); n++) {
    if (prefixOk(n)) lastOk = n;
  }
  return Math.min(lastOk + 1, lines.length);
}

/** A `key = value` line whose last key part is the one asked for, with its raw value text. */
export interface RawValue {
  readonly line: number;
  readonly raw: string;
}

/**
 * Every line that sets `key` (as the last part of its dotted key), with the value's raw
 * text as written: for keeping a secret out of a syntax error when the document does not
 * parse, so no value is known yet.
 */
export function rawValuesOf(text: string, key: string): RawValue[] {
  const found: RawValue[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const t = line.trim();
    if (t.startsWith("[") || t.startsWith("#")) return;
    const path = readKeyPath(t, 0);
    if (!path || t[path.end] !== "=" || path.parts.at(-1) !== key) return;
    const raw = t.slice(path.end + 1).trim();
    if (raw !== "") found.push({ line: index + 1, raw });
  });
  return found;
}
