/**
 * Debian .deb: the glibc binary, both systemd units, the sysusers.d entry, the samples in
 * /etc (conffiles), a man page and the files lintian expects (copyright, changelog,
 * overrides). The tree is staged with modes and times set, then `dpkg-deb --build
 * --root-owner-group` makes the archive (ar of debian-binary, control.tar.xz, data.tar.xz).
 */
import {
  chmodSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { BuildInfo } from "./build-info.ts";
import { minimumGlibc, readElf } from "./elf.ts";
import {
  DESCRIPTION,
  gzip,
  imageFile,
  installedKib,
  KBGP_LINK,
  KBGP_MAN_LINK,
  MAINTAINER,
  PACKAGE_NAME,
  type PayloadFile,
  SUMMARY,
  stageFile,
  systemdDistroFiles,
  systemdUnits,
} from "./payload.ts";
import { type Arch, binaryName, DEB_ARCH, targetFor } from "./targets.ts";

/** Debian changelog entry for this build (native package: /usr/share/doc/bgproxy/changelog.gz). */
export function debianChangelog(info: BuildInfo): string {
  const date = new Date(info.versions.sourceDateEpoch * 1000).toUTCString().replace("GMT", "+0000");
  return [
    `${PACKAGE_NAME} (${info.versions.deb}) unstable; urgency=medium`,
    "",
    `  * Built from git ${info.versions.binary}.`,
    `    Commit ${info.versions.commit}.`,
    "",
    ` -- ${MAINTAINER}  ${date}`,
    "",
  ].join("\n");
}

export function debFileName(info: BuildInfo, arch: Arch): string {
  return `${PACKAGE_NAME}_${info.versions.deb}_${DEB_ARCH[arch]}.deb`;
}

/** The installed files, binary first. `binary` is the glibc build's bytes. */
export function debPayload(info: BuildInfo, binary: Uint8Array): PayloadFile[] {
  const doc = `/usr/share/doc/${PACKAGE_NAME}`;
  return [
    { path: "/usr/bin/bgproxy", mode: 0o755, data: binary },
    KBGP_LINK,
    KBGP_MAN_LINK,
    ...systemdUnits("/lib/systemd/system"),
    ...systemdDistroFiles(),
    { path: `${doc}/copyright`, mode: 0o644, data: imageFile("debian/copyright") },
    {
      path: `${doc}/changelog.gz`,
      mode: 0o644,
      data: gzip(new TextEncoder().encode(debianChangelog(info))),
    },
    {
      path: `/usr/share/lintian/overrides/${PACKAGE_NAME}`,
      mode: 0o644,
      data: imageFile("debian/lintian-overrides"),
    },
  ];
}

export function debControl(
  info: BuildInfo,
  arch: Arch,
  files: readonly PayloadFile[],
  glibc: string,
): string {
  return [
    `Package: ${PACKAGE_NAME}`,
    `Version: ${info.versions.deb}`,
    `Architecture: ${DEB_ARCH[arch]}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKib(files)}`,
    `Depends: libc6 (>= ${glibc})`,
    "Recommends: ca-certificates",
    "Section: net",
    "Priority: optional",
    `Description: ${SUMMARY}`,
    ...DESCRIPTION.map((line) => ` ${line}`),
    "",
  ].join("\n");
}

/** Every directory holding a payload file, deepest first, relative to the stage. */
function stagedDirectories(files: readonly PayloadFile[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) {
    for (let d = dirname(f.path); d !== "/"; d = dirname(d)) dirs.add(d.slice(1));
  }
  return [...dirs].sort((a, b) => b.length - a.length);
}

function md5Hex(data: Uint8Array): string {
  return new Bun.CryptoHasher("md5").update(data).digest("hex");
}

async function run(argv: string[], env?: Record<string, string>): Promise<void> {
  const proc = Bun.spawn(argv, {
    stdout: "pipe",
    stderr: "pipe",
    env: env ? { ...process.env, ...env } : undefined,
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${code}):\n${out}${err}`);
}

/** Stage and build the .deb for `arch` into `outDir`; returns its path. */
export async function buildDeb(
  info: BuildInfo,
  arch: Arch,
  dist: string,
  work: string,
  outDir: string,
): Promise<string> {
  const binaryPath = join(dist, binaryName(targetFor(arch, "glibc")));
  const binary = await Bun.file(binaryPath).bytes();
  const glibc = minimumGlibc(readElf(binary));
  if (glibc === undefined) throw new Error(`${binaryPath}: no GLIBC_ version needs`);
  const files = debPayload(info, binary);

  const stage = join(work, `deb-${arch}`);
  rmSync(stage, { recursive: true, force: true });
  const epoch = info.versions.sourceDateEpoch;
  for (const f of files) {
    const target = stageFile(stage, f, (t) => {
      if (f.data === binary) linkSync(binaryPath, t);
      else writeFileSync(t, f.data);
    });
    lutimesSync(target, epoch, epoch);
  }
  const control = join(stage, "DEBIAN");
  mkdirSync(control, { mode: 0o755 });
  const controlFiles: [string, string, number][] = [
    ["control", debControl(info, arch, files, glibc), 0o644],
    [
      "conffiles",
      files
        .filter((f) => f.conffile)
        .map((f) => `${f.path}\n`)
        .join(""),
      0o644,
    ],
    [
      "md5sums",
      files
        .filter((f) => !f.conffile)
        .filter((f) => f.symlink === undefined)
        .map((f) => `${md5Hex(f.data)}  ${f.path.slice(1)}\n`)
        .join(""),
      0o644,
    ],
  ];
  for (const script of ["postinst", "prerm", "postrm"]) {
    controlFiles.push([script, new TextDecoder().decode(imageFile(`debian/${script}`)), 0o755]);
  }
  for (const [name, text, mode] of controlFiles) {
    writeFileSync(join(control, name), text);
    chmodSync(join(control, name), mode);
  }
  // Directories last: writing their files changed their times.
  for (const dir of stagedDirectories(files)) utimesSync(join(stage, dir), epoch, epoch);

  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, debFileName(info, arch));
  // One xz thread: the same bytes on every machine (scripts/package.ts runs two at a time).
  await run(
    ["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--threads-max=1", "--build", stage, out],
    {
      SOURCE_DATE_EPOCH: String(epoch),
    },
  );
  rmSync(stage, { recursive: true, force: true });
  return out;
}
