/**
 * What this machine lets the root-only tiers do, probed once per process.
 *
 * Tests that need namespaces and BIRD use `describe.skipIf(!canRunNetns)` so that non-root
 * runs report them as skipped, never as passed; put `skipNote` in the describe name so the
 * reason shows in the output.
 */

export const isRoot = process.getuid?.() === 0;

function probeNetns(): string | undefined {
  if (!isRoot) return "not running as root";
  if (Bun.which("ip") === null) return "`ip` (iproute2) not installed";
  const name = `bgpx${process.pid.toString(16).slice(-4).padStart(4, "0")}probe`;
  const add = Bun.spawnSync(["ip", "netns", "add", name], { stderr: "pipe" });
  if (add.exitCode !== 0) {
    return `\`ip netns add\` failed: ${add.stderr.toString().trim() || `exit ${add.exitCode}`}`;
  }
  Bun.spawnSync(["ip", "netns", "del", name]);
  return undefined;
}

function probeBird(): string | undefined {
  const missing = ["bird", "birdc"].filter((b) => Bun.which(b) === null);
  return missing.length > 0
    ? `${missing.join(" and ")} not installed (Debian package bird2)`
    : undefined;
}

const netnsProblem = probeNetns();
const birdProblem = probeBird();

/** Root, and `ip netns add` works. */
export const netnsAvailable = netnsProblem === undefined;
/** `bird` and `birdc` are on PATH. */
export const birdAvailable = birdProblem === undefined;
/** Everything the namespace + BIRD end-to-end tests need. */
export const canRunNetns = netnsAvailable && birdAvailable;
/** Why `canRunNetns` is false ("" when it is true). */
export const netnsSkipReason = [netnsProblem, birdProblem].filter(Boolean).join("; ");
/** " [skipped: <reason>]" when the root tier cannot run, "" otherwise; append to describe names. */
export const skipNote = canRunNetns ? "" : ` [skipped: ${netnsSkipReason}]`;
