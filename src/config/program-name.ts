import { basename } from "node:path";

/**
 * How the program was called → the arguments for `parseCommandLine`, which wants a role
 * word first. Two forms run the agent without one, as the reference product's `kbgp` does:
 *   - called as `kbgp` (the packages install /usr/bin/kbgp → bgproxy): `kbgp --email ...`;
 *   - a first argument that is a flag: `bgproxy --email ...`, so that the container image
 *     (ENTRYPOINT bgproxy, CMD agent) runs the agent for `docker run IMAGE --email ...`.
 * The top-level help and version flags keep their meaning for `bgproxy`.
 */
export const KBGP_COMMAND = "kbgp";

const TOP_LEVEL_FLAGS = new Set(["-h", "-help", "--help", "-version", "--version"]);

/** `programName`: process.argv0 (or the script path when run by `bun src/main.ts`). */
export function roleArguments(programName: string, args: readonly string[]): string[] {
  const [first] = args;
  if (isKbgp(programName)) return first === "agent" ? [...args] : ["agent", ...args];
  if (first?.startsWith("-") && !TOP_LEVEL_FLAGS.has(first)) return ["agent", ...args];
  return [...args];
}

/** `kbgp`, `/usr/bin/kbgp`, `./kbgp.ts` (a symlink to src/main.ts in a checkout). */
export function isKbgp(programName: string): boolean {
  return basename(programName).replace(/\.[cm]?[jt]s$/, "") === KBGP_COMMAND;
}
