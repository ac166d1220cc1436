/**
 * The build and the packages under test: dist/ as `npm run build` and `npm run package`
 * left it (scripts/package-test.ts makes both before the tests run). A missing artifact is
 * a failure, not a skip: these tests exist to prove the artifacts.
 *
 * Tests that need a tool report themselves skipped with the reason in the name when the
 * tool is absent (`missing(...)`), as the root-only tests do elsewhere.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type BuildInfo, readBuildInfo } from "../../../scripts/packaging/build-info.ts";
import { binaryName, TARGETS, type Target } from "../../../scripts/packaging/targets.ts";

export const ROOT = resolve(import.meta.dir, "..", "..", "..");
export const DIST = process.env.BGPROXY_DIST
  ? resolve(process.env.BGPROXY_DIST)
  : join(ROOT, "dist");
export const PACKAGES = join(DIST, "packages");
export const IMAGE = join(ROOT, "image");

let info: BuildInfo | undefined;

/** dist/build-info.json; throws (failing the test) when there is no build. */
export function buildInfo(): BuildInfo {
  info ??= readBuildInfo(DIST);
  return info;
}

export function binaryPath(target: Target): string {
  return join(DIST, binaryName(target));
}

export function packagePath(relative: string): string {
  const path = join(PACKAGES, relative);
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run package`);
  return path;
}

export const isRoot = process.getuid?.() === 0;

/** Commands not on PATH, as " [skipped: X, Y not installed]" for a describe name, or "". */
export function missing(...commands: string[]): string {
  const absent = commands.filter((c) => Bun.which(c) === null);
  return absent.length === 0 ? "" : ` [skipped: ${absent.join(", ")} not installed]`;
}

export function imageText(relative: string): string {
  return readFileSync(join(IMAGE, relative), "utf8");
}

export { TARGETS };

/** Debian-style "Field: value" paragraphs (continuation lines start with a space). */
export function parseControl(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (/^\s/.test(line) && last !== undefined) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const m = line.match(/^([A-Za-z0-9-]+):\s*(.*)$/);
    if (!m?.[1]) throw new Error(`not a control line: ${line}`);
    last = m[1];
    fields.set(last, m[2] ?? "");
  }
  return fields;
}

export function sha256(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}
