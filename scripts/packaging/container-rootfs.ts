/**
 * The container image's root filesystem, staged under dist/image/rootfs-<amd64|arm64>/ for
 * image/docker/Dockerfile, which is `FROM scratch` + COPY of it: no base image is pulled,
 * so `docker build` and `buildah bud` make it offline. It holds:
 *   /usr/bin/bgproxy (the glibc build), /usr/bin/kbgp → bgproxy,
 *   the loader and the libraries the binary names (DT_NEEDED), from this machine's glibc
 *   (Debian: libc6 for amd64, libc6-arm64-cross for arm64),
 *   /etc/ssl/certs/ca-certificates.crt (Debian: ca-certificates), /etc/passwd and
 *   /etc/group (root and bgproxy), /etc/bgproxy (the gateway's config volume), /tmp, and
 *   the empty /proc, /dev, /sys a runtime mounts.
 * An arch whose libraries are not installed here is left out, with the reason.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { readElf } from "./elf.ts";
import { type Arch, DEB_ARCH } from "./targets.ts";

/** Where this machine keeps the target's glibc, and where the image's loader looks. */
const GLIBC: Readonly<Record<Arch, { readonly host: string; readonly image: string }>> = {
  x64: { host: "/lib/x86_64-linux-gnu", image: "/lib/x86_64-linux-gnu" },
  arm64: { host: "/usr/aarch64-linux-gnu/lib", image: "/lib/aarch64-linux-gnu" },
};
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export function rootfsDir(dist: string, arch: Arch): string {
  return join(dist, "image", `rootfs-${DEB_ARCH[arch]}`);
}

/** Why the rootfs of `arch` cannot be staged here, or undefined. */
export function rootfsMissing(binary: Uint8Array, arch: Arch): string | undefined {
  const elf = readElf(binary);
  const absent = [
    ...elf.needed.map((lib) => join(GLIBC[arch].host, lib)),
    join(GLIBC[arch].host, (elf.interpreter ?? "").split("/").pop() ?? ""),
    CA_BUNDLE,
  ].filter((f) => !existsSync(f));
  return absent.length === 0 ? undefined : `missing ${absent.join(", ")}`;
}

/** Stages the rootfs of `arch` from `binaryPath`; returns its directory. */
export function stageRootfs(dist: string, arch: Arch, binaryPath: string, binary: Uint8Array) {
  const root = rootfsDir(dist, arch);
  rmSync(root, { recursive: true, force: true });
  const put = (path: string, from: string, mode: number) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    copyFileSync(from, join(root, path));
    chmodSync(join(root, path), mode);
  };
  const elf = readElf(binary);
  put("/usr/bin/bgproxy", binaryPath, 0o755);
  symlinkSync("bgproxy", join(root, "usr/bin/kbgp"));
  const interpreter = elf.interpreter ?? "";
  put(interpreter, join(GLIBC[arch].host, interpreter.split("/").pop() ?? ""), 0o755);
  for (const lib of elf.needed)
    put(join(GLIBC[arch].image, lib), join(GLIBC[arch].host, lib), 0o755);
  put(CA_BUNDLE, CA_BUNDLE, 0o644);
  writeFileSync(
    join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/sbin/nologin\nbgproxy:x:65532:65532:bgproxy:/nonexistent:/sbin/nologin\n",
  );
  writeFileSync(join(root, "etc/group"), "root:x:0:\nbgproxy:x:65532:\n");
  mkdirSync(join(root, "etc/bgproxy"), { recursive: true });
  // Mount points a container runtime fills (the compiled binary reads /proc/self/exe).
  for (const dir of ["proc", "dev", "sys"]) mkdirSync(join(root, dir), { recursive: true });
  mkdirSync(join(root, "tmp"), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  return root;
}
