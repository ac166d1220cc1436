import { LOG_LEVELS, type LogLevel } from "../core/logger.ts";
import type { FlagSpec, Settings } from "./flags.ts";
import { invalid } from "./scalars.ts";
import type { LogConfig } from "./types.ts";

/**
 * The two logging flags every role takes, defined once: `--log-level` and `--human-logs`.
 * The level words are the reference product's (zerolog's): besides ours it accepts
 * `warning`, `fatal` and `panic`. We have no level above error (a fatal condition ends the
 * process with one line on stderr), so `fatal` and `panic` keep error lines only.
 */
const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  warning: "warn",
  fatal: "error",
  panic: "error",
};

export const LOG_LEVEL_WORDS: readonly string[] = [...LOG_LEVELS, ...Object.keys(LEVEL_ALIASES)];

export const LOG_LEVEL_FLAG: FlagSpec = {
  name: "log-level",
  kind: "string",
  valueName: "level",
  defaultText: "info",
  help: "Log level: error, warn, info, debug or trace (also warning, fatal, panic)",
};

export const HUMAN_LOGS_FLAG: FlagSpec = {
  name: "human-logs",
  kind: "bool",
  help: "Enable human-readable logs",
};

/** A level word, any case; undefined when it is none. */
export function logLevelOf(word: string): LogLevel | undefined {
  const w = word.trim().toLowerCase();
  return LOG_LEVELS.find((l) => l === w) ?? LEVEL_ALIASES[w];
}

/** `--log-level` and `--human-logs` (or their absence) → the LogConfig. */
export function parseLogConfig(s: Settings): LogConfig {
  const setting = s.get(LOG_LEVEL_FLAG.name);
  let level: LogLevel = "info";
  if (setting) {
    const found = logLevelOf(setting.value);
    if (!found) throw invalid(setting, `one of ${LOG_LEVEL_WORDS.join(", ")}`);
    level = found;
  }
  return { level, human: s.bool(HUMAN_LOGS_FLAG.name, false) };
}
