import { randomUUID } from "node:crypto";
import { accessSync, constants, readdirSync, readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";

/**
 * The few things config parsing needs from the outside world, injected so that the
 * parsers stay pure and tests need no files.
 */
export interface ConfigIo {
  /** Why `path` cannot be read as a file ("no such file", ...), or undefined if it can. */
  fileProblem(path: string): string | undefined;
  /** The file's text; throws an Error whose message says why not. */
  readText(path: string): string;
  /** A fresh random secret (standalone's API token). */
  randomToken(): string;
  /** The names in `path` when it is a directory, else undefined (`--config DIR`). */
  listDirectory?(path: string): string[] | undefined;
  /** This machine's host name: a gateway's default name. */
  hostname?(): string;
}

function reason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a parent is not a directory";
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

export const systemIo: ConfigIo = {
  fileProblem(path) {
    try {
      if (statSync(path).isDirectory()) return "is a directory";
      accessSync(path, constants.R_OK);
      return undefined;
    } catch (err) {
      return reason(err);
    }
  },
  readText(path) {
    try {
      if (statSync(path).isDirectory()) throw Object.assign(new Error(), { code: "EISDIR" });
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new Error(reason(err));
    }
  },
  randomToken() {
    return `${randomUUID()}${randomUUID()}`.replaceAll("-", "");
  },
  listDirectory(path) {
    try {
      return statSync(path).isDirectory() ? readdirSync(path) : undefined;
    } catch {
      return undefined;
    }
  },
  hostname: () => hostname(),
};
