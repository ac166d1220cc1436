/**
 * Errors are values with a kind and a retry decision. Code that retries branches on
 * `retryable`, never on message text.
 */
export type ErrorKind =
  | "config" // bad flags, env or config file: fix and restart
  | "auth" // credentials refused: retrying soon will not help
  | "transport" // a connection failed or broke: retry with backoff
  | "protocol" // the peer sent something that breaks the contract
  | "blocked" // the gateway refused this device
  | "unsupported" // the platform lacks a feature (kernel option, capability)
  | "internal";

export class BgpProxyError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;

  constructor(
    kind: ErrorKind,
    message: string,
    options?: { retryable?: boolean; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BgpProxyError";
    this.kind = kind;
    this.retryable = options?.retryable ?? kind === "transport";
  }
}

/**
 * Brackets around a value that a config error echoes (see config/redaction.ts `echo`):
 * redaction finds echoed values by these positions, never by searching the text.
 */
export const ECHO_OPEN = "\uE000";
export const ECHO_CLOSE = "\uE001";
const ECHO_MARK = /[\uE000\uE001]/g;

export class ConfigError extends BgpProxyError {
  /** The message with every echoed value between ECHO_OPEN and ECHO_CLOSE. */
  readonly marked: string;

  constructor(marked: string) {
    super("config", marked.replace(ECHO_MARK, ""), { retryable: false });
    this.name = "ConfigError";
    this.marked = marked;
  }
}

/** Narrow an unknown thrown value to a message without leaking objects into logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
