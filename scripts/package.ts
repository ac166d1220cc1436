/**
 * OS packages from the binaries of `npm run build` (`npm run package`):
 *
 *   bun scripts/package.ts [--format deb,rpm,ipk,apk] [--dist DIR]
 *                          [--apk-key PRIVATE.pem [--apk-key-name NAME.rsa.pub]]
 *
 * Writes into DIR/packages/ (DIR default dist/):
 *   bgproxy_<ver>_{amd64,arm64}.deb              Debian/Ubuntu (dpkg-deb), glibc build
 *   bgproxy-<ver>-1.{x86_64,aarch64}.rpm         RHEL/Fedora/SUSE (rpmbuild), glibc build
 *   openwrt/bgproxy_<ver>_<arch>.ipk             OpenWrt opkg, musl build: x86_64,
 *                                                aarch64_generic, aarch64_cortex-a53/-a72
 *   alpine/{x86_64,aarch64}/bgproxy-<ver>.apk    Alpine (apk v2), musl build
 *   SHA256SUMS
 * Sources: image/ (units, init scripts, configs, maintainer scripts) and dist/build-info.json.
 * The .deb and .rpm need dpkg-deb and rpmbuild (Debian packages dpkg and rpm); the .ipk and
 * .apk are written by scripts/packaging/ipk.ts and apk.ts. --apk-key signs the .apk files
 * (RSA, SHA-256) for a repository whose public key is in /etc/apk/keys/NAME.rsa.pub.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { apkFileName, apkStreams, concatStreams, opensslSigner } from "./packaging/apk.ts";
import { type BuildInfo, readBuildInfo, renderSums, sha256Hex } from "./packaging/build-info.ts";
import { buildDeb } from "./packaging/deb.ts";
import { ipkArchive, ipkData, ipkFileName } from "./packaging/ipk.ts";
import { buildRpm } from "./packaging/rpm.ts";
import {
  APK_ARCH,
  type Arch,
  binaryName,
  IPK_ARCHES,
  type Target,
  targetFor,
} from "./packaging/targets.ts";

const ROOT = resolve(import.meta.dir, "..");
const FORMATS = ["deb", "rpm", "ipk", "apk"] as const;
type Format = (typeof FORMATS)[number];
const ARCHES: readonly Arch[] = ["x64", "arm64"];
const TOOLS: Partial<Record<Format, string>> = { deb: "dpkg-deb", rpm: "rpmbuild" };

interface Options {
  formats: Format[];
  dist: string;
  apkKey?: string;
  apkKeyName?: string;
}

function usage(message: string): never {
  process.stderr.write(
    `package: ${message}\nusage: bun scripts/package.ts [--format deb,rpm,ipk,apk] [--dist DIR] [--apk-key PEM [--apk-key-name NAME]]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  let formats: Format[] = [...FORMATS];
  let dist = join(ROOT, "dist");
  let apkKey: string | undefined;
  let apkKeyName: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === "--format") {
      formats = value()
        .split(",")
        .map((f) => {
          if (!FORMATS.includes(f as Format)) usage(`unknown format ${f}`);
          return f as Format;
        });
    } else if (arg === "--dist") dist = resolve(value());
    else if (arg === "--apk-key") apkKey = resolve(value());
    else if (arg === "--apk-key-name") apkKeyName = value();
    else usage(`unknown argument ${arg}`);
  }
  return {
    formats,
    dist,
    ...(apkKey ? { apkKey, apkKeyName: apkKeyName ?? `${basename(apkKey, ".pem")}.rsa.pub` } : {}),
  };
}

/** The binary of `target`, checked against build-info.json (a stale or half build fails). */
async function binary(info: BuildInfo, dist: string, target: Target): Promise<Uint8Array> {
  const built = info.binaries.find((b) => b.target === target.name);
  if (!built) throw new Error(`dist has no ${target.name} build: run npm run build`);
  const data = await Bun.file(join(dist, binaryName(target))).bytes();
  if (sha256Hex(data) !== built.sha256) {
    throw new Error(`${binaryName(target)} does not match build-info.json: run npm run build`);
  }
  return data;
}

async function timed(what: string, fn: () => Promise<string[]>): Promise<string[]> {
  const started = performance.now();
  const files = await fn();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  for (const f of files) {
    console.log(`  ${relative(ROOT, f)}  ${(statSync(f).size / 1048576).toFixed(1)} MiB`);
  }
  console.log(`  ${what}: ${seconds} s`);
  return files;
}

function write(path: string, data: Uint8Array): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  for (const f of options.formats) {
    const tool = TOOLS[f];
    if (tool && Bun.which(tool) === null) {
      usage(
        `${tool} is not installed (Debian: apt-get install ${f === "deb" ? "dpkg" : "rpm"}); or leave ${f} out with --format`,
      );
    }
  }
  const info = readBuildInfo(options.dist);
  const out = join(options.dist, "packages");
  const work = join(options.dist, ".work");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  console.log(
    `bgproxy ${info.versions.binary}: ${options.formats.join(", ")} → ${relative(ROOT, out)}/`,
  );

  const made: string[] = [];
  // dpkg-deb and rpmbuild spend their time in single-threaded xz: run them two at a time
  // (one per core), the slower RPMs first.
  const external: { what: string; run: () => Promise<string> }[] = [];
  for (const format of ["rpm", "deb"] as const) {
    if (!options.formats.includes(format)) continue;
    for (const arch of ARCHES) {
      await binary(info, options.dist, targetFor(arch, "glibc"));
      const build = format === "rpm" ? buildRpm : buildDeb;
      external.push({
        what: `${format} ${arch}`,
        run: () => build(info, arch, options.dist, work, out),
      });
    }
  }
  let next = 0;
  const worker = async () => {
    for (let job = external[next++]; job; job = external[next++]) {
      const task = job;
      made.push(...(await timed(task.what, async () => [await task.run()])));
    }
  };
  await Promise.all([worker(), worker()]);

  for (const arch of ARCHES) {
    const musl = options.formats.some((f) => f === "ipk" || f === "apk")
      ? await binary(info, options.dist, targetFor(arch, "musl"))
      : undefined;
    if (musl && options.formats.includes("ipk")) {
      made.push(
        ...(await timed(`ipk ${arch}`, async () => {
          const data = ipkData(info, musl);
          return IPK_ARCHES[arch].map((ipkArch) =>
            write(
              join(out, "openwrt", ipkFileName(info, ipkArch)),
              ipkArchive(info, ipkArch, data, musl),
            ),
          );
        })),
      );
    }
    if (musl && options.formats.includes("apk")) {
      const signer =
        options.apkKey && options.apkKeyName
          ? opensslSigner(options.apkKey, options.apkKeyName)
          : undefined;
      made.push(
        ...(await timed(`apk ${arch}`, async () => [
          write(
            join(out, "alpine", APK_ARCH[arch], apkFileName(info)),
            concatStreams(await apkStreams(info, arch, musl, signer)),
          ),
        ])),
      );
    }
  }
  rmSync(work, { recursive: true, force: true });

  const sums = await Promise.all(
    made.map(async (f) => ({
      name: relative(out, f),
      sha256: sha256Hex(await Bun.file(f).bytes()),
    })),
  );
  writeFileSync(join(out, "SHA256SUMS"), renderSums(sums));
  console.log(`wrote ${made.length} packages and ${relative(ROOT, out)}/SHA256SUMS`);
}

if (import.meta.main) {
  await main().catch((err: unknown) => {
    process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
