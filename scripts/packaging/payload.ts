/**
 * What a package installs: files with their path on the target system, mode and bytes,
 * taken from image/ and dist/. Each format (deb.ts, rpm.ts, ipk.ts, apk.ts) lists its own
 * payload from these pieces; this module only reads and describes them.
 */
import { chmodSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

export const ROOT = resolve(import.meta.dir, "..", "..");
export const IMAGE = join(ROOT, "image");

export interface PayloadFile {
  /** Absolute path on the installed system, e.g. /usr/bin/bgproxy. */
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
  /** Kept across upgrades when the administrator changed it. */
  readonly conffile?: boolean;
  /** A symbolic link to this target (relative to the link's directory); `data` is empty. */
  readonly symlink?: string;
}

/** kbgp(1) is bgproxy(1), which describes the kbgp command. */
export const KBGP_MAN_LINK: PayloadFile = {
  path: "/usr/share/man/man1/kbgp.1.gz",
  mode: 0o777,
  data: new Uint8Array(0),
  symlink: "bgproxy.1.gz",
};

/** /usr/bin/kbgp → bgproxy: the reference product's command (the binary runs the agent). */
export const KBGP_LINK: PayloadFile = {
  path: "/usr/bin/kbgp",
  mode: 0o777,
  data: new Uint8Array(0),
  symlink: "bgproxy",
};

/** A file of image/ (path relative to it). */
export function imageFile(relativePath: string): Uint8Array {
  return readFileSync(join(IMAGE, relativePath));
}

export function imageText(relativePath: string): string {
  return readFileSync(join(IMAGE, relativePath), "utf8");
}

/** gzip -9n: no name, mtime 0, so the same input always gives the same bytes. */
export function gzip(data: Uint8Array, level = 9): Uint8Array {
  return gzipSync(data, { level });
}

export const PACKAGE_NAME = "bgproxy";
export const SUMMARY = "BGP proxy agent and gateway";
export const DESCRIPTION = [
  "bgproxy carries BGP sessions from routers that have no public address to a",
  "central collector. The agent runs beside the routers: they peer with it on TCP",
  "179 (optionally with TCP-MD5), and it relays every session in real time over a",
  "gRPC (HTTP/2 + TLS) connection to a gateway. It keeps no routes. The agent is a",
  "drop-in for Kentik's kbgp (same flags and KENTIK_* variables); the gateway ends",
  "sessions in a built-in BGP collector or forwards them to a BGP daemon.",
];
/** Who answers for the packages; set BGPROXY_MAINTAINER="Name <address>" for a release. */
export const MAINTAINER =
  process.env.BGPROXY_MAINTAINER ?? "bgproxy maintainers <bgproxy@example.org>";
export const LICENSE = "Apache-2.0";

/** The systemd distributions' common files (Debian and RPM), besides the binary and units. */
export function systemdDistroFiles(): PayloadFile[] {
  return [
    {
      path: "/usr/lib/sysusers.d/bgproxy.conf",
      mode: 0o644,
      data: imageFile("systemd/bgproxy.sysusers"),
    },
    {
      path: "/etc/default/bgproxy.env.sample",
      mode: 0o644,
      data: imageFile("default/bgproxy.env.sample"),
      conffile: true,
    },
    // The reference product's sample, for its install steps (`cp kbgp.env.sample kbgp.env`).
    {
      path: "/etc/default/kbgp.env.sample",
      mode: 0o644,
      data: imageFile("default/bgproxy.env.sample"),
      conffile: true,
    },
    {
      path: "/etc/default/bgproxy-gateway.env.sample",
      mode: 0o644,
      data: imageFile("default/bgproxy-gateway.env.sample"),
      conffile: true,
    },
    {
      path: "/etc/bgproxy/gateway.toml.sample",
      mode: 0o644,
      data: imageFile("etc/gateway.toml.sample"),
      conffile: true,
    },
    {
      path: "/usr/share/man/man1/bgproxy.1.gz",
      mode: 0o644,
      data: gzip(imageFile("man/bgproxy.1")),
    },
  ];
}

/**
 * Both systemd units under `unitDir` (/lib/systemd/system on Debian 12, /usr/lib/... on RPM),
 * and kbgp.service, a link to bgproxy.service: a unit file symlinked in the unit directory is
 * an alias, so `systemctl restart kbgp` works before anything is enabled (the unit's
 * Alias=kbgp.service also makes `systemctl enable` link it).
 */
export function systemdUnits(unitDir: string): PayloadFile[] {
  return [
    ...["bgproxy.service", "bgproxy-gateway.service"].map((name) => ({
      path: `${unitDir}/${name}`,
      mode: 0o644,
      data: imageFile(`systemd/${name}`),
    })),
    {
      path: `${unitDir}/kbgp.service`,
      mode: 0o777,
      data: new Uint8Array(0),
      symlink: "bgproxy.service",
    },
  ];
}

/** Sum of file sizes rounded up to KiB, plus one KiB per directory, as dpkg counts. */
export function installedKib(files: readonly PayloadFile[]): number {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split("/").slice(1, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return files.reduce((kib, f) => kib + Math.ceil(f.data.length / 1024), 0) + dirs.size;
}

/** Writes `f` under `stage` (a file, or a symbolic link). */
export function stageFile(stage: string, f: PayloadFile, write: (target: string) => void): string {
  const target = join(stage, f.path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  if (f.symlink !== undefined) {
    symlinkSync(f.symlink, target);
    return target;
  }
  write(target);
  chmodSync(target, f.mode);
  return target;
}
