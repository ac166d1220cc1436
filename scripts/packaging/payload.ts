/**
 * What a package installs: files with their path on the target system, mode and bytes,
 * taken from image/ and dist/. Each format (deb.ts, rpm.ts, ipk.ts, apk.ts) lists its own
 * payload from these pieces; this module only reads and describes them.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
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
}

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

/** Both systemd units under `unitDir` (/lib/systemd/system on Debian 12, /usr/lib/... on RPM). */
export function systemdUnits(unitDir: string): PayloadFile[] {
  return ["bgproxy.service", "bgproxy-gateway.service"].map((name) => ({
    path: `${unitDir}/${name}`,
    mode: 0o644,
    data: imageFile(`systemd/${name}`),
  }));
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
