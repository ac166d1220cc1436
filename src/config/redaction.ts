import { ConfigError } from "../core/errors.ts";

export const REDACTED = "[redacted]";

/**
 * Removes every occurrence of a secret (API token, MD5 key) from `message`, raw or in the
 * escaped form that JSON quoting gives it. The last line of defence: parsers never mean to
 * echo a secret, but a secret typed by mistake as another flag's value would be echoed.
 */
export function scrubSecrets(message: string, secrets: readonly string[]): string {
  const forms = secrets
    .filter((s) => s !== "")
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .sort((a, b) => b.length - a.length);
  let out = message;
  for (const form of forms) out = out.replaceAll(form, REDACTED);
  return out;
}

/** Runs `parse`; a ConfigError it throws comes back with `secrets()` scrubbed from it. */
export function withSecretsScrubbed<T>(secrets: () => readonly string[], parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const scrubbed = scrubSecrets(err.message, secrets());
    if (scrubbed === err.message) throw err;
    throw new ConfigError(scrubbed);
  }
}
