import { ConfigError, ECHO_CLOSE, ECHO_OPEN } from "../core/errors.ts";

export const REDACTED = "[redacted]";

/**
 * A value as a config error shows it: quoted, escaped, cut if very long, and bracketed by
 * invisible marks so that redaction knows where each echoed value starts and ends.
 */
export function echo(value: string, max = 120): string {
  const cut = value.length > max ? `${value.slice(0, max)}...` : value;
  return mark(JSON.stringify(cut));
}

/** Brackets a text that may quote user input (a parser's message) as an echoed value. */
export function mark(text: string): string {
  return `${ECHO_OPEN}${text}${ECHO_CLOSE}`;
}

/** True when an echoed value holds a secret, raw or in its JSON-escaped form. */
function holdsSecret(shown: string, secrets: readonly string[]): boolean {
  return secrets.some(
    (s) => s !== "" && (shown.includes(s) || shown.includes(JSON.stringify(s).slice(1, -1))),
  );
}

/**
 * The message of a marked error text with every echoed value that holds a secret (API
 * token, MD5 key) replaced, whole, by [redacted]. Only echoed values are looked at: the
 * words of the message itself are never searched, so a short secret ("e") garbles
 * nothing. The last line of defence: parsers never mean to echo a secret, but a secret
 * typed by mistake as another flag's value would be echoed.
 */
export function redactEchoes(marked: string, secrets: readonly string[]): string {
  let out = "";
  let at = 0;
  for (;;) {
    const open = marked.indexOf(ECHO_OPEN, at);
    const close = open < 0 ? -1 : marked.indexOf(ECHO_CLOSE, open);
    if (close < 0) return out + marked.slice(at);
    const shown = marked.slice(open + 1, close);
    out += marked.slice(at, open) + (holdsSecret(shown, secrets) ? REDACTED : shown);
    at = close + 1;
  }
}

/** Runs `parse`; a ConfigError it throws comes back with `secrets()` redacted from it. */
export function withSecretsScrubbed<T>(secrets: () => readonly string[], parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const redacted = redactEchoes(err.marked, secrets());
    if (redacted === err.message) throw err;
    throw new ConfigError(redacted);
  }
}
