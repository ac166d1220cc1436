/**
 * The four single-file binaries `scripts/build.ts` makes, and what each platform calls their
 * architecture. One table, so that the build, the packagers and the tests agree.
 *
 * x86-64 builds use Bun's "baseline" runtime (x86-64-v2, Nehalem and later), not the default
 * "modern" one (Haswell, AVX2): x86 edge boxes (Atom, Celeron J, AMD GX) often lack AVX2.
 * arm64 builds run on ARMv8.0 (Cortex-A53 and up; checked under qemu with -cpu cortex-a53).
 * Bun has no runtime for MIPS or 32-bit ARM, so neither has a build here.
 */

export type Arch = "x64" | "arm64";
export type Libc = "glibc" | "musl";

export interface Target {
  /** Our name, also the binary's suffix: dist/bgproxy-<name>. */
  readonly name: string;
  readonly arch: Arch;
  readonly libc: Libc;
  /** `bun build --compile --target=...` */
  readonly bunTarget: string;
}

export const TARGETS: readonly Target[] = [
  { name: "linux-x64", arch: "x64", libc: "glibc", bunTarget: "bun-linux-x64-baseline" },
  { name: "linux-arm64", arch: "arm64", libc: "glibc", bunTarget: "bun-linux-arm64" },
  {
    name: "linux-x64-musl",
    arch: "x64",
    libc: "musl",
    bunTarget: "bun-linux-x64-baseline-musl",
  },
  { name: "linux-arm64-musl", arch: "arm64", libc: "musl", bunTarget: "bun-linux-arm64-musl" },
];

export function binaryName(target: Target): string {
  return `bgproxy-${target.name}`;
}

export function findTarget(name: string): Target {
  const found = TARGETS.find((t) => t.name === name);
  if (!found) {
    throw new Error(`unknown target ${name}: one of ${TARGETS.map((t) => t.name).join(", ")}`);
  }
  return found;
}

export function targetFor(arch: Arch, libc: Libc): Target {
  const found = TARGETS.find((t) => t.arch === arch && t.libc === libc);
  if (!found) throw new Error(`no target for ${arch}/${libc}`);
  return found;
}

/** Debian and Docker (TARGETARCH) names. */
export const DEB_ARCH: Readonly<Record<Arch, string>> = { x64: "amd64", arm64: "arm64" };
/** RPM and Alpine names (also `uname -m`). */
export const RPM_ARCH: Readonly<Record<Arch, string>> = { x64: "x86_64", arm64: "aarch64" };
export const APK_ARCH: Readonly<Record<Arch, string>> = RPM_ARCH;

/**
 * OpenWrt package architectures. opkg installs a package only when its Architecture is one
 * the device lists (`opkg print-architecture`), and OpenWrt names aarch64 by CPU core, so the
 * same ARMv8.0 binary is packaged once per name:
 * - aarch64_generic: armsr/armvirt (VMs), rockchip (NanoPi R2S/R4S/R5S/R6S), layerscape;
 * - aarch64_cortex-a53: mediatek/filogic and mt7622 (most Wi-Fi 6 routers), mvebu/cortexa53
 *   (ESPRESSObin), bcm27xx/bcm2710 (Raspberry Pi 3), sunxi/cortexa53, qualcommax (ipq807x);
 * - aarch64_cortex-a72: bcm27xx/bcm2711 (Raspberry Pi 4), mvebu/cortexa72 (MACCHIATObin).
 */
export const IPK_ARCHES: Readonly<Record<Arch, readonly string[]>> = {
  x64: ["x86_64"],
  arm64: ["aarch64_generic", "aarch64_cortex-a53", "aarch64_cortex-a72"],
};

/** The user-mode emulator that runs a foreign binary on this machine (Debian qemu-user-static). */
export const QEMU: Readonly<Record<Arch, string>> = {
  x64: "qemu-x86_64-static",
  arm64: "qemu-aarch64-static",
};

/** `process.arch` → our Arch, when this machine can run that target natively. */
export function hostArch(): Arch | undefined {
  if (process.arch === "x64") return "x64";
  if (process.arch === "arm64") return "arm64";
  return undefined;
}
