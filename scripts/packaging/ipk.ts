/**
 * OpenWrt .ipk for opkg (OpenWrt 23.05 and 24.10), written here: OpenWrt makes its packages
 * with its own build system, which no Debian package provides.
 *
 * Layout, as OpenWrt's scripts/ipkg-build writes it: a gzip-compressed tar holding
 * ./debian-binary ("2.0\n"), ./data.tar.gz (the files, from /) and ./control.tar.gz
 * (./control, ./conffiles, ./postinst, ./prerm). opkg also reads the Debian-style ar
 * layout, but OpenWrt's own packages are tar.gz, so that is what is written.
 *
 * The musl build needs the device's libstdc++ and libgcc: Depends names OpenWrt's packages
 * (libstdcpp6, libgcc1: package name + ABI version). Require-User makes OpenWrt's
 * default_postinst create the bgproxy user and group.
 */
import type { BuildInfo } from "./build-info.ts";
import {
  DESCRIPTION,
  gzip,
  imageFile,
  KBGP_LINK,
  LICENSE,
  MAINTAINER,
  type PayloadFile,
} from "./payload.ts";
import { parentDirectories, type TarEntry, tarArchive } from "./tar-writer.ts";

export const IPK_DEPENDS = ["libc", "libstdcpp6", "libgcc1"];

export function ipkPayload(binary: Uint8Array): PayloadFile[] {
  return [
    { path: "/usr/bin/bgproxy", mode: 0o755, data: binary },
    KBGP_LINK,
    { path: "/etc/init.d/bgproxy", mode: 0o755, data: imageFile("openwrt/bgproxy.init") },
    // Holds the API token.
    {
      path: "/etc/config/bgproxy",
      mode: 0o600,
      data: imageFile("openwrt/bgproxy.config"),
      conffile: true,
    },
    {
      path: "/etc/capabilities/bgproxy.json",
      mode: 0o644,
      data: imageFile("openwrt/bgproxy.capabilities.json"),
    },
  ];
}

export function ipkFileName(info: BuildInfo, ipkArch: string): string {
  return `bgproxy_${info.versions.deb}_${ipkArch}.ipk`;
}

/** ./usr/bin/bgproxy etc., with the parent directories first. */
function dataEntries(files: readonly PayloadFile[]): TarEntry[] {
  const paths = files.map((f) => `.${f.path}`);
  return [
    { type: "dir", path: ".", mode: 0o755 },
    ...parentDirectories(paths),
    ...files.map(
      (f): TarEntry =>
        f.symlink !== undefined
          ? { type: "symlink", path: `.${f.path}`, target: f.symlink }
          : { type: "file", path: `.${f.path}`, mode: f.mode, data: f.data },
    ),
  ];
}

export function ipkControl(info: BuildInfo, ipkArch: string, installedSize: number): string {
  return [
    "Package: bgproxy",
    `Version: ${info.versions.deb}`,
    `Depends: ${IPK_DEPENDS.join(", ")}`,
    "Source: bgproxy",
    "SourceName: bgproxy",
    `License: ${LICENSE}`,
    "Section: net",
    `SourceDateEpoch: ${info.versions.sourceDateEpoch}`,
    `Maintainer: ${MAINTAINER}`,
    "Require-User: bgproxy:bgproxy",
    `Architecture: ${ipkArch}`,
    `Installed-Size: ${installedSize}`,
    `Description: ${DESCRIPTION.join(" ")}`,
    "",
  ].join("\n");
}

/** data.tar.gz, shared by every ipk of one binary (only the control differs per arch). */
export function ipkData(info: BuildInfo, binary: Uint8Array): { tar: Uint8Array; gz: Uint8Array } {
  const tar = tarArchive(dataEntries(ipkPayload(binary)), {
    mtime: info.versions.sourceDateEpoch,
  });
  return { tar, gz: gzip(tar) };
}

/** The whole .ipk for `ipkArch`. */
export function ipkArchive(
  info: BuildInfo,
  ipkArch: string,
  data: { tar: Uint8Array; gz: Uint8Array },
  binary: Uint8Array,
): Uint8Array {
  const mtime = info.versions.sourceDateEpoch;
  const text = (s: string) => new TextEncoder().encode(s);
  const conffiles = ipkPayload(binary)
    .filter((f) => f.conffile)
    .map((f) => `${f.path}\n`)
    .join("");
  // ipkg-build's Installed-Size: the size of the uncompressed data tar.
  const control = tarArchive(
    [
      { type: "dir", path: ".", mode: 0o755 },
      { type: "file", path: "./conffiles", mode: 0o644, data: text(conffiles) },
      {
        type: "file",
        path: "./control",
        mode: 0o644,
        data: text(ipkControl(info, ipkArch, data.tar.length)),
      },
      { type: "file", path: "./postinst", mode: 0o755, data: imageFile("openwrt/postinst") },
      { type: "file", path: "./prerm", mode: 0o755, data: imageFile("openwrt/prerm") },
    ],
    { mtime },
  );
  const outer = tarArchive(
    [
      { type: "file", path: "./debian-binary", mode: 0o644, data: text("2.0\n") },
      { type: "file", path: "./data.tar.gz", mode: 0o644, data: data.gz },
      { type: "file", path: "./control.tar.gz", mode: 0o644, data: gzip(control) },
    ],
    { mtime },
  );
  return gzip(outer);
}
