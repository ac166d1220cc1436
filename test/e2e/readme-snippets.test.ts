/**
 * The README's first five minutes, run as written: the snippets marked
 * `<!-- readme-test: NAME -->` are read out of README.md, `npm start` runs in a fresh
 * network namespace (so its fixed loopback ports are free), the Quick start's curl must show
 * the demo router's table, and the Standalone section's bird.conf and shell lines must bring
 * a real BIRD's prefixes to /api/devices. If the README drifts from what works, this fails.
 *
 * As written means: each shell line runs with `sh -c`, in the namespace, next to the
 * snippet's bird.conf. Where `sudo` is not installed (we are root), a stand-in that just runs
 * its arguments is put first on PATH. A curl line is repeated (bounded) until the answer
 * shows what the README says it shows, since BIRD connects about 5 s after it starts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeviceView } from "../../src/gateway/device-view.ts";
import { createNetns, destroyNetns, type Netns } from "../support/netns.ts";
import type { ManagedProcess } from "../support/process.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { waitUntil } from "../support/wait.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** The fenced code block right after `<!-- readme-test: name -->` in README.md. */
function readmeSnippet(readme: string, name: string): string {
  const marker = `<!-- readme-test: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const m = /^\s*```[a-z]*\n([\s\S]*?)\n```/.exec(readme.slice(at + marker.length));
  if (!m?.[1]) throw new Error(`no code block after ${marker}`);
  return `${m[1]}\n`;
}

/** The commands of a shell snippet: one a line, comments and blank lines dropped. */
function shellLines(snippet: string): string[] {
  return snippet
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** `npm start` would run `npm ci` first when the lock file is newer than node_modules. */
function npmStartWouldInstall(): boolean {
  try {
    const installed = statSync(join(ROOT, "node_modules", ".package-lock.json")).mtimeMs;
    return statSync(join(ROOT, "package-lock.json")).mtimeMs > installed;
  } catch {
    return true;
  }
}

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
function skipReasonOf(): string {
  if (!canRunNetns) return skipNote;
  if (Bun.which("curl") === null) return " [skipped: curl not installed (Debian package curl)]";
  if (Bun.which("npm") === null) return " [skipped: npm not on PATH]";
  if (npmStartWouldInstall()) {
    return " [skipped: node_modules is older than package-lock.json; run npm start once]";
  }
  return "";
}
const skipReason = skipReasonOf();

describe.skipIf(skipReason !== "")(`README snippets, run as written${skipReason}`, () => {
  let ns: Netns;
  let dir: string;
  let npmStart: ManagedProcess;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    ns = await createNetns();
    dir = makeTempDir("readme");
    if (Bun.which("sudo") === null) {
      writeFileSync(join(dir, "sudo"), '#!/bin/sh\nexec "$@"\n');
      chmodSync(join(dir, "sudo"), 0o755);
      env.PATH = `${dir}:${process.env.PATH ?? ""}`;
    }
    npmStart = ns.spawn(["npm", "start"], { cwd: ROOT, label: "npm start" });
    await npmStart.waitForLine(/bgproxy standalone is up/, 30_000);
  }, 40_000);

  afterAll(async () => {
    // Kills what still runs in the namespace (npm start, a BIRD left behind), then deletes it.
    if (ns) await destroyNetns(ns);
    if (dir) removeTempDir(dir);
  });

  /** Runs one shell line as written, in the namespace, next to bird.conf. */
  async function sh(line: string) {
    return ns.exec(["sh", "-c", line], { cwd: dir, env, timeoutMs: 10_000, check: false });
  }

  /** Runs a curl line until its JSON shows `want` (at most `timeoutMs`). */
  async function curlUntil(
    line: string,
    want: (devices: DeviceView[]) => DeviceView | undefined,
    what: string,
  ): Promise<DeviceView> {
    let last = "";
    return waitUntil(
      async () => {
        const r = await sh(line);
        last = r.stdout + r.stderr;
        if (r.code !== 0) return undefined;
        return want(JSON.parse(r.stdout) as DeviceView[]);
      },
      { timeoutMs: 20_000, what, diagnostics: () => `${last}\n${npmStart.tail(20)}` },
    );
  }

  test("Quick start: npm start's demo router shows on /api/devices within seconds", async () => {
    const [curl, ...more] = shellLines(readmeSnippet(readme, "quick-start-curl"));
    expect(more).toEqual([]);
    expect(curl).toStartWith("curl ");
    const demo = await curlUntil(
      curl ?? "",
      (list) =>
        list.find(
          (d) => d.name === "router-127.0.0.2" && d.state === "established" && d.updates > 0,
        ),
      "the demo router established",
    );
    // The README's figures: 1,000 IPv4 and 200 IPv6, less one churned slice of 50 at times.
    expect([950, 1000]).toContain(demo.prefixes.ipv4);
    expect([150, 200]).toContain(demo.prefixes.ipv6);
  }, 30_000);

  test("Standalone: the BIRD snippet's prefixes arrive; the shell lines work as written", async () => {
    writeFileSync(join(dir, "bird.conf"), readmeSnippet(readme, "bird.conf"));
    const lines = shellLines(readmeSnippet(readme, "bird-shell"));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toStartWith("sudo bird ");
    expect(lines[2]).toStartWith("curl ");
    const [start = "", show = "", curl = "", stop = ""] = lines;

    const started = await sh(start);
    expect(started.code).toBe(0);
    const router = await curlUntil(
      curl,
      (list) =>
        list.find(
          (d) =>
            d.ip === "127.0.0.1" &&
            d.state === "established" &&
            d.prefixes.ipv4 === 2 &&
            d.prefixes.ipv6 === 1,
        ),
      "BIRD's 2 IPv4 + 1 IPv6 prefixes at the collector",
    );
    expect(router.name).toBe("router-127.0.0.1");
    const shown = await sh(show);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/standalone\s+BGP\s+\S+\s+up\s+\S+\s+Established/);

    const stopped = await sh(stop);
    expect(stopped.code).toBe(0);
    await curlUntil(
      curl,
      (list) => list.find((d) => d.ip === "127.0.0.1" && d.state === "idle"),
      "the BIRD session to end",
    );
  }, 40_000);
});
