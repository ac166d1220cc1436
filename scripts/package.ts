/**
 * OS packages from the binaries of `npm run build` (`npm run package`):
 *
 *   bun scripts/package.ts [--format deb,rpm,ipk,apk3,apk,image] [--dist DIR]
 *                          [--apk-key PRIVATE.pem [--apk-key-name NAME.rsa.pub]]
 *                          [--usign-key SECRET] [--openwrt-apk-key PRIVATE.pem]
 *
 * Writes into DIR/packages/ (DIR default dist/):
 *   bgproxy_<ver>_{amd64,arm64}.deb              Debian/Ubuntu (dpkg-deb), glibc build
 *   bgproxy-<ver>-1.{x86_64,aarch64}.rpm         RHEL/Fedora/SUSE (rpmbuild), glibc build
 *   openwrt/bgproxy_<ver>_<arch>.ipk             OpenWrt 24.10 (opkg), musl build: x86_64,
 *                                                aarch64_generic, aarch64_cortex-a53/-a72,
 *   openwrt/Packages{,.gz,.sig}                  and their feed, signed with usign
 *   openwrt-apk/<arch>/bgproxy-<ver>.apk         OpenWrt 25.x (apk v3), same arches,
 *   openwrt-apk/<arch>/packages.adb              and its signed index (one per arch)
 *   alpine/{x86_64,aarch64}/bgproxy-<ver>.apk    Alpine (apk v2), musl build,
 *   alpine/<arch>/APKINDEX.tar.gz                and its RSA-signed index
 *   keys/                                        the public keys of the feeds
 *   SHA256SUMS
 * and DIR/image/rootfs-{amd64,arm64}/, the container image's files for
 * image/docker/Dockerfile (scripts/packaging/container-rootfs.ts).
 * Sources: image/ (units, init scripts, configs, maintainer scripts) and dist/build-info.json.
 * The .deb and .rpm need dpkg-deb and rpmbuild (Debian packages dpkg and rpm); the .ipk and
 * .apk are written by scripts/packaging/ipk.ts and apk.ts. --apk-key signs the .apk files
 * (RSA, SHA-256) for a repository whose public key is in /etc/apk/keys/NAME.rsa.pub; the
 * same key signs APKINDEX.tar.gz. --usign-key (`usign -G` secret key) signs the opkg feed,
 * --openwrt-apk-key (EC P-256 or RSA PEM) packages.adb. A key not given is made here,
 * throwaway: its public half is in keys/, the private half is not kept.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { opensslSigner } from "./packaging/apk.ts";
import { type BuildInfo, readBuildInfo, renderSums, sha256Hex } from "./packaging/build-info.ts";
import { rootfsMissing, stageRootfs } from "./packaging/container-rootfs.ts";
import { buildDeb } from "./packaging/deb.ts";
import {
  alpineFiles,
  apk3Files,
  ipkPackages,
  opkgFeedFiles,
  publicKeys,
  repositoryKeys,
} from "./packaging/device-repositories.ts";
import type { OpkgFeedEntry } from "./packaging/feeds.ts";
import { buildRpm } from "./packaging/rpm.ts";
import { type Arch, binaryName, type Target, targetFor } from "./packaging/targets.ts";

const ROOT = resolve(import.meta.dir, "..");
const FORMATS = ["deb", "rpm", "ipk", "apk3", "apk", "image"] as const;
type Format = (typeof FORMATS)[number];
const ARCHES: readonly Arch[] = ["x64", "arm64"];
const TOOLS: Partial<Record<Format, string>> = { deb: "dpkg-deb", rpm: "rpmbuild" };

interface Options {
  formats: Format[];
  dist: string;
  apkKey?: string;
  apkKeyName?: string;
  usignKey?: string;
  openwrtApkKey?: string;
}

function usage(message: string): never {
  process.stderr.write(
    `package: ${message}\nusage: bun scripts/package.ts [--format deb,rpm,ipk,apk3,apk,image] [--dist DIR] [--apk-key PEM [--apk-key-name NAME]] [--usign-key SECRET] [--openwrt-apk-key PEM]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  let formats: Format[] = [...FORMATS];
  let dist = join(ROOT, "dist");
  let apkKey: string | undefined;
  let apkKeyName: string | undefined;
  let usignKey: string | undefined;
  let openwrtApkKey: string | undefined;
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
    else if (arg === "--usign-key") usignKey = resolve(value());
    else if (arg === "--openwrt-apk-key") openwrtApkKey = resolve(value());
    else usage(`unknown argument ${arg}`);
  }
  return {
    formats,
    dist,
    ...(usignKey ? { usignKey } : {}),
    ...(openwrtApkKey ? { openwrtApkKey } : {}),
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

  const devices = options.formats.filter((f) => f === "ipk" || f === "apk3" || f === "apk");
  if (devices.length > 0) {
    const keys = repositoryKeys(options);
    if (keys.throwaway.length > 0) {
      console.log(`  throwaway keys (not kept) sign: ${keys.throwaway.join(", ")}`);
    }
    const put = (files: Map<string, Uint8Array>) =>
      [...files].map(([name, bytes]) => write(join(out, name), bytes));
    const signer =
      options.apkKey && options.apkKeyName
        ? opensslSigner(options.apkKey, options.apkKeyName)
        : undefined;
    const feed: OpkgFeedEntry[] = [];
    for (const arch of ARCHES) {
      const musl = await binary(info, options.dist, targetFor(arch, "musl"));
      if (devices.includes("ipk")) {
        await timed(`ipk ${arch}`, async () => {
          const entries = ipkPackages(info, arch, musl);
          feed.push(...entries);
          return [];
        });
      }
      if (devices.includes("apk3")) {
        made.push(
          ...(await timed(`apk3 ${arch}`, async () => put(apk3Files(info, arch, musl, keys)))),
        );
      }
      if (devices.includes("apk")) {
        made.push(
          ...(await timed(`apk ${arch}`, async () =>
            put(await alpineFiles(info, arch, musl, keys, signer)),
          )),
        );
      }
    }
    if (feed.length > 0)
      made.push(...(await timed("opkg feed", async () => put(opkgFeedFiles(feed, keys)))));
    made.push(...put(publicKeys(keys)));
  }
  if (options.formats.includes("image")) {
    for (const arch of ARCHES) {
      const target = targetFor(arch, "glibc");
      const bytes = await binary(info, options.dist, target);
      const why = rootfsMissing(bytes, arch);
      if (why) {
        console.log(`  image ${arch}: left out (${why})`);
        continue;
      }
      const root = stageRootfs(options.dist, arch, join(options.dist, binaryName(target)), bytes);
      console.log(`  image ${arch}: ${relative(ROOT, root)}/`);
    }
  }
  rmSync(work, { recursive: true, force: true });

  const sums = await Promise.all(
    made.map(async (f) => ({
      name: relative(out, f),
      sha256: sha256Hex(await Bun.file(f).bytes()),
    })),
  );
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "SHA256SUMS"), renderSums(sums));
  console.log(`wrote ${made.length} packages and ${relative(ROOT, out)}/SHA256SUMS`);
}

if (import.meta.main) {
  await main().catch((err: unknown) => {
    process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
