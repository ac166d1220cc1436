/**
 * RPM for RHEL/Fedora/SUSE-style systems, made by rpmbuild (Debian's `rpm` package) from
 * image/rpm/bgproxy.spec and a staged tree: the glibc binary, both systemd units under
 * /usr/lib/systemd/system, the sysusers.d entry, the samples (%config(noreplace)), the man
 * page and the licence text. rpmbuild adds the ELF dependencies (libc.so.6 ...) itself.
 */
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildInfo } from "./build-info.ts";
import {
  IMAGE,
  imageFile,
  KBGP_LINK,
  KBGP_MAN_LINK,
  type PayloadFile,
  stageFile,
  systemdDistroFiles,
  systemdUnits,
} from "./payload.ts";
import { type Arch, binaryName, RPM_ARCH, targetFor } from "./targets.ts";

export function rpmPayload(binary: Uint8Array): PayloadFile[] {
  return [
    { path: "/usr/bin/bgproxy", mode: 0o755, data: binary },
    KBGP_LINK,
    KBGP_MAN_LINK,
    ...systemdUnits("/usr/lib/systemd/system"),
    ...systemdDistroFiles(),
    {
      path: "/usr/share/licenses/bgproxy/copyright",
      mode: 0o644,
      data: imageFile("debian/copyright"),
    },
  ];
}

export function rpmFileName(info: BuildInfo, arch: Arch): string {
  return `bgproxy-${info.versions.rpm}-1.${RPM_ARCH[arch]}.rpm`;
}

/** Stage and build the RPM for `arch` into `outDir`; returns its path. */
export async function buildRpm(
  info: BuildInfo,
  arch: Arch,
  dist: string,
  work: string,
  outDir: string,
): Promise<string> {
  const binaryPath = join(dist, binaryName(targetFor(arch, "glibc")));
  const files = rpmPayload(await Bun.file(binaryPath).bytes());
  const top = join(work, `rpm-${arch}`);
  const stage = join(top, "stage");
  rmSync(top, { recursive: true, force: true });
  for (const f of files) {
    stageFile(stage, f, (t) => {
      if (f.path === "/usr/bin/bgproxy") cpSync(binaryPath, t);
      else writeFileSync(t, f.data);
    });
  }
  const rpmOut = join(top, "out");
  const argv = [
    "rpmbuild",
    "-bb",
    "--quiet",
    `--target=${RPM_ARCH[arch]}-linux`,
    "--define",
    `_topdir ${top}`,
    "--define",
    `_rpmdir ${rpmOut}`,
    "--define",
    "_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
    "--define",
    `bgproxy_version ${info.versions.rpm}`,
    "--define",
    `bgproxy_commit ${info.versions.commit}`,
    "--define",
    `bgproxy_root ${stage}`,
    "--define",
    `source_date_epoch_from_changelog 0`,
    "--define",
    "use_source_date_epoch_as_buildtime 1",
    "--define",
    "_buildhost reproducible",
    "--define",
    "clamp_mtime_to_source_date_epoch 1",
    join(IMAGE, "rpm", "bgproxy.spec"),
  ];
  const proc = Bun.spawn(argv, {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, SOURCE_DATE_EPOCH: String(info.versions.sourceDateEpoch) },
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`rpmbuild failed (exit ${code}):\n${out}${err}`);
  const built = readdirSync(rpmOut).filter((f) => f.endsWith(".rpm"));
  if (built.length !== 1 || built[0] === undefined) {
    throw new Error(`rpmbuild made ${built.length} packages in ${rpmOut}: ${built.join(", ")}`);
  }
  mkdirSync(outDir, { recursive: true });
  const dest = join(outDir, rpmFileName(info, arch));
  cpSync(join(rpmOut, built[0]), dest);
  rmSync(top, { recursive: true, force: true });
  return dest;
}
