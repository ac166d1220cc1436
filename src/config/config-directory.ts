import { ConfigError } from "../core/errors.ts";
import type { ConfigIo } from "./io.ts";

/**
 * `--config DIR`: every `*.toml` file of a directory, in lexical (byte) order, read as one
 * gateway file. Each file is a run of whole tables ([[account]], [collector], [[device]]),
 * so the files are joined and handed to the one gateway-file parser; errors it reports
 * against the joined text are moved back to the file and line they came from. A plain
 * table ([collector]) may appear in one file only, and the parser's duplicate checks
 * (device address, device id, account token) apply across files.
 *
 * Pure apart from `readConfigSource`, which asks a ConfigIo for the directory's files.
 */
export interface ConfigFileText {
  /** The path as errors show it, e.g. "/etc/bgproxy/gateway.d/10-devices.toml". */
  readonly name: string;
  readonly text: string;
}

/** One or more files, ready for the gateway-file parser. */
export interface ConfigSource {
  /** What the parser blames: the file, or the directory for joined files. */
  readonly name: string;
  readonly text: string;
  /** Rewrites "name:LINE: ..." errors about the joined text to "file:line: ...". */
  relocate(err: unknown): unknown;
}

/** Plain tables the gateway file knows: each may be defined once in a whole directory. */
const SINGLE_TABLES = ["collector"];

function firstContentLine(text: string): { line: number; content: string } | undefined {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const content = (lines[i] ?? "").trim();
    if (content !== "" && !content.startsWith("#")) return { line: i + 1, content };
  }
  return undefined;
}

function definedTables(text: string): Set<string> {
  const found = new Set<string>();
  for (const raw of text.split("\n")) {
    const m = raw.trim().match(/^\[\s*([A-Za-z0-9_-]+)\s*\]/);
    if (m?.[1] && SINGLE_TABLES.includes(m[1])) found.add(m[1]);
  }
  return found;
}

/** Joins a directory's files (already in order) into one source; `dir` names it in errors. */
export function joinConfigFiles(dir: string, files: readonly ConfigFileText[]): ConfigSource {
  if (files.length === 0) {
    throw new ConfigError(`--config ${dir}: the directory has no *.toml files`);
  }
  const owner = new Map<string, string>();
  const starts: { name: string; first: number }[] = [];
  const parts: string[] = [];
  let line = 1;
  for (const file of files) {
    const first = firstContentLine(file.text);
    if (first && !first.content.startsWith("[")) {
      throw new ConfigError(
        `${file.name}:${first.line}: a file in a config directory must start with a table ` +
          "header ([[account]], [collector] or [[device]])",
      );
    }
    for (const table of definedTables(file.text)) {
      const before = owner.get(table);
      if (before !== undefined) {
        throw new ConfigError(`${file.name}: [${table}] is already defined in ${before}`);
      }
      owner.set(table, file.name);
    }
    const text = file.text.endsWith("\n") ? file.text : `${file.text}\n`;
    starts.push({ name: file.name, first: line });
    parts.push(text);
    line += text.split("\n").length - 1;
  }
  const joined = parts.join("");
  const prefix = `${dir}:`;
  return {
    name: dir,
    text: joined,
    relocate(err) {
      if (!(err instanceof ConfigError) || !err.message.startsWith(prefix)) return err;
      const m = err.message.slice(prefix.length).match(/^(\d+): /);
      if (!m?.[1]) return err;
      const at = Number(m[1]);
      const file = [...starts].reverse().find((s) => s.first <= at);
      if (!file) return err;
      const rest = err.message.slice(prefix.length + m[0].length);
      return new ConfigError(`${file.name}:${at - file.first + 1}: ${rest}`);
    },
  };
}

/** Runs `parse` on the source, moving its errors back to their own files. */
export function parseConfigSource<T>(
  source: ConfigSource,
  parse: (text: string, name: string) => T,
): T {
  try {
    return parse(source.text, source.name);
  } catch (err) {
    throw source.relocate(err);
  }
}

/**
 * The `--config` path's text: the file itself, or a directory's `*.toml` files joined.
 * Throws "cannot read --config ..." when the path or one of its files cannot be read.
 */
export function readConfigSource(path: string, io: ConfigIo): ConfigSource {
  const read = (p: string) => {
    try {
      return io.readText(p);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ConfigError(`cannot read --config ${JSON.stringify(p)}: ${why}`);
    }
  };
  const entries = io.listDirectory?.(path);
  if (entries === undefined) return { name: path, text: read(path), relocate: (err) => err };
  const names = entries.filter((e) => e.endsWith(".toml") && !e.startsWith(".")).sort();
  const dir = path.endsWith("/") ? path.slice(0, -1) : path;
  return joinConfigFiles(
    dir,
    names.map((n) => ({ name: `${dir}/${n}`, text: read(`${dir}/${n}`) })),
  );
}
