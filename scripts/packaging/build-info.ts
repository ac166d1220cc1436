/**
 * dist/build-info.json: what `scripts/build.ts` made (versions, binaries, sizes, sums), read
 * by `scripts/package.ts` and the package tests so that they all use the same build.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ReleaseVersions } from "./release-version.ts";

export interface BuiltBinary {
  /** Target name (scripts/packaging/targets.ts). */
  readonly target: string;
  /** File name inside dist/. */
  readonly file: string;
  readonly bunTarget: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The xz-compressed copy (dist/<file>.xz), unless the build skipped it. */
  readonly xz?: { readonly file: string; readonly bytes: number; readonly sha256: string };
}

export interface BuildInfo {
  readonly versions: ReleaseVersions;
  readonly bunVersion: string;
  readonly binaries: readonly BuiltBinary[];
}

export const BUILD_INFO = "build-info.json";

export function readBuildInfo(dist: string): BuildInfo {
  const path = join(dist, BUILD_INFO);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as BuildInfo;
  } catch (err) {
    throw new Error(`cannot read ${path} (run \`npm run build\` first): ${String(err)}`);
  }
}

export function writeBuildInfo(dist: string, info: BuildInfo): void {
  writeFileSync(join(dist, BUILD_INFO), `${JSON.stringify(info, null, 2)}\n`);
}

export function sha256Hex(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** sha256sum(1) format: "<hex>  <name>" per line. */
export function renderSums(entries: readonly { name: string; sha256: string }[]): string {
  return entries.map((e) => `${e.sha256}  ${e.name}\n`).join("");
}
