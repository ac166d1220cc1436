import { ConfigError } from "../core/errors.ts";
import { echo, mark } from "./redaction.ts";

/**
 * Command-line flags, tokenised by us rather than by cac: cac's parser (mri) turns
 * numeric-looking values into numbers (`--token 000123` would become 123) and repeats
 * into arrays. Here every value stays the exact string the operator typed.
 *
 * Accepted forms, as in the reference (Go's flag package): `--name value`, `--name=value`,
 * and the single-dash `-name value` / `-name=value`. Bool flags take no separate value, but
 * accept `--name=true|false` (also 1/0, yes/no, t/f) and, since positional arguments are
 * never valid, a following true/false word (`--insecure false`). Scalars given twice: the
 * last one wins, as in Go. List flags collect every occurrence.
 */
export type FlagKind = "bool" | "string" | "list";

export interface FlagSpec {
  /** Long name without dashes, e.g. "metrics-port". */
  readonly name: string;
  readonly kind: FlagKind;
  /** One line for --help. */
  readonly help: string;
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** The default as shown in --help. */
  readonly defaultText?: string;
  /** Placeholder shown in --help, e.g. "host:port". */
  readonly valueName?: string;
  /** One-letter alias, e.g. "h". */
  readonly short?: string;
  /** Bool flags only: also accept a number (non-zero = true), like the reference's "float". */
  readonly numeric?: boolean;
}

/** The process environment, or a test's stand-in. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Raw string values by flag name; bool flags hold "true" or "false". */
export type FlagValues = ReadonlyMap<string, readonly string[]>;

export const HELP_FLAG: FlagSpec = {
  name: "help",
  short: "h",
  kind: "bool",
  help: "Show this help and exit",
};

export const VERSION_FLAG: FlagSpec = { name: "version", kind: "bool", help: "Print the version" };

const TRUE_WORDS = new Set(["true", "t", "yes", "1"]);
const FALSE_WORDS = new Set(["false", "f", "no", "0"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** true/false/t/f/yes/no/1/0, any case; with `numeric`, any decimal number (non-zero = true). */
export function parseBoolish(text: string, numeric = false): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  if (numeric && NUMBER.test(word)) return Number(word) !== 0;
  return undefined;
}

function boolExpectation(spec: FlagSpec): string {
  return spec.numeric ? "true, false, yes, no or a number" : "true or false";
}

function findSpec(specs: readonly FlagSpec[], name: string, dashes: number) {
  if (dashes === 1) {
    const short = specs.find((s) => s.short === name);
    if (short) return short;
  }
  return specs.find((s) => s.name === name);
}

/**
 * Tokenise `argv` (the arguments after the command name) against `specs`. Throws a
 * ConfigError for an unknown flag, a missing value, a bad bool or a stray argument.
 * `command` is used in hints, e.g. "bgproxy agent".
 */
export function parseFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  command: string,
): FlagValues {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      const stray = argv[i + 1];
      if (stray !== undefined) throw new ConfigError(`unexpected argument ${echo(stray)}`);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      throw new ConfigError(
        `unexpected argument ${echo(arg)} (${command} takes only flags; see ${command} --help)`,
      );
    }
    const dashes = arg.startsWith("--") ? 2 : 1;
    const body = arg.slice(dashes);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const spec = name === "" ? undefined : findSpec(specs, name, dashes);
    if (!spec) {
      const given = mark(`${"-".repeat(dashes)}${name}`);
      throw new ConfigError(`unknown flag ${given} (see ${command} --help)`);
    }
    const flag = `--${spec.name}`;
    if (spec.kind === "bool") {
      if (inline !== undefined) {
        const b = parseBoolish(inline, spec.numeric);
        if (b === undefined) {
          throw new ConfigError(`${flag} must be ${boolExpectation(spec)}, got ${echo(inline)}`);
        }
        add(spec.name, String(b));
        continue;
      }
      const next = argv[i + 1];
      const b = next === undefined ? undefined : parseBoolish(next, spec.numeric);
      if (b !== undefined) i++;
      add(spec.name, String(b ?? true));
      continue;
    }
    if (inline !== undefined) {
      add(spec.name, inline);
      continue;
    }
    const next = argv[i + 1];
    // A value may start with "-" (a token can), but not look like one of our flags:
    // `--email --token x` is a forgotten value, not the e-mail "--token".
    const nextIsFlag =
      next?.startsWith("-") === true &&
      specs.some((s) => {
        const n = next.replace(/^--?/, "").split("=")[0];
        return s.name === n || s.short === n;
      });
    if (next === undefined || nextIsFlag) throw new ConfigError(`${flag} needs a value`);
    add(spec.name, next);
    i++;
  }
  return values;
}

/** A value with the name to blame for it: the flag, or the env var standing in for it. */
export interface Setting {
  readonly value: string;
  /** "--site-id", or "KENTIK_SITE (--site-id)" when it came from the environment. */
  readonly label: string;
  readonly fromEnv: boolean;
}

/** Looks a flag up, falling back to its environment variable: flags beat env. */
export class Settings {
  constructor(
    private readonly flags: FlagValues,
    private readonly env: Environment,
    private readonly specs: readonly FlagSpec[],
  ) {}

  private spec(name: string): FlagSpec {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`no flag spec for ${name}`);
    return spec;
  }

  /** Whether the flag itself was given (env not consulted). */
  given(name: string): boolean {
    return this.flags.has(name);
  }

  /** The last value of a scalar flag, else its env var (empty = unset), else undefined. */
  get(name: string): Setting | undefined {
    const spec = this.spec(name);
    const fromFlag = this.flags.get(name);
    const last = fromFlag?.[fromFlag.length - 1];
    if (last !== undefined) return { value: last, label: `--${name}`, fromEnv: false };
    if (spec.env === undefined) return undefined;
    const fromEnv = this.env[spec.env];
    if (fromEnv === undefined || fromEnv === "") return undefined;
    return { value: fromEnv, label: `${spec.env} (--${name})`, fromEnv: true };
  }

  /** Every value of a list flag, in order. */
  all(name: string): readonly string[] {
    this.spec(name);
    return this.flags.get(name) ?? [];
  }

  /** A bool flag or its env var; env values are parsed like flag values. */
  bool(name: string, fallback: boolean): boolean {
    const spec = this.spec(name);
    const setting = this.get(name);
    if (!setting) return fallback;
    const b = parseBoolish(setting.value, spec.numeric);
    if (b === undefined) {
      throw new ConfigError(
        `${setting.label} must be ${boolExpectation(spec)}, got ${echo(setting.value)}`,
      );
    }
    return b;
  }
}
