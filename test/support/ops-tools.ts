/**
 * The operations tests' outside tools: `promtool` (Debian package prometheus) to validate
 * Prometheus output, and headless `chromium` to render the gateway's status page. Tests
 * needing one skip with a note naming the missing package, never pass silently.
 */
import { spawnSync } from "node:child_process";

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

export const promtoolPath = which("promtool");
export const promtoolSkipNote = promtoolPath
  ? ""
  : " (skipped: promtool not installed; Debian package prometheus, see scripts/apt-packages.txt)";

/** `promtool check metrics` on `text`: exit code and what it printed (lint problems). */
export function promtoolCheck(text: string): { code: number | null; output: string } {
  if (!promtoolPath) throw new Error("promtool is not installed");
  const r = spawnSync(promtoolPath, ["check", "metrics"], {
    input: text,
    encoding: "utf8",
    timeout: 10_000,
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

export const chromiumPath = which("chromium") ?? which("chromium-browser");
export const chromiumSkipNote = chromiumPath
  ? ""
  : " (skipped: chromium not installed; Debian package chromium, see scripts/apt-packages.txt)";
