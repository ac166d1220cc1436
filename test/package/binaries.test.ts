/**
 * The single-file binaries of `npm run build`: sums, sizes, version stamp, what they need
 * from the system (ELF), and that they run: natively (x64 glibc), under qemu as an ARMv8.0
 * Cortex-A53 (arm64 glibc) and as a pre-AVX Nehalem (x64 baseline), each relaying a BGP
 * session through `bgproxy standalone`.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { minimumGlibc, readElf, readSection } from "../../scripts/packaging/elf.ts";
import { findTarget, QEMU, type Target } from "../../scripts/packaging/targets.ts";
import { run } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { binaryPath, buildInfo, DIST, missing, sha256, TARGETS } from "./support/artifacts.ts";
import { getJson, relayOneSession, startStandalone } from "./support/standalone-session.ts";

const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";
const x64 = findTarget("linux-x64");
const arm64 = findTarget("linux-arm64");

describe("build output", () => {
  test("every target was built, with the git version and matching SHA256SUMS", async () => {
    const info = buildInfo();
    expect(info.binaries.map((b) => b.target)).toEqual(TARGETS.map((t) => t.name));
    const git = Bun.spawnSync(["git", "describe", "--tags", "--always", "--dirty"], {
      cwd: join(DIST, ".."),
    });
    expect(info.versions.binary).toBe(git.stdout.toString().trim());
    for (const b of info.binaries) {
      const data = await Bun.file(join(DIST, b.file)).bytes();
      expect(data.length).toBe(b.bytes);
      expect(sha256(data)).toBe(b.sha256);
      expect(statSync(join(DIST, b.file)).mode & 0o777).toBe(0o755);
    }
    // sha256sum(1) itself agrees with the sums file.
    const check = await run(["sha256sum", "--check", "--strict", "SHA256SUMS"], {
      cwd: DIST,
      timeoutMs: 60_000,
    });
    for (const b of info.binaries) expect(check.stdout).toContain(`${b.file}: OK`);
  });

  test("each .xz decompresses to its binary", async () => {
    for (const b of buildInfo().binaries) {
      if (!b.xz) throw new Error(`${b.file}: built with --no-xz`);
      const r = Bun.spawnSync(["xz", "-dc", join(DIST, b.xz.file)], { stdout: "pipe" });
      expect(r.exitCode).toBe(0);
      expect(sha256(r.stdout)).toBe(b.sha256);
      expect(b.xz.bytes).toBeLessThan(b.bytes / 2);
      console.log(`${b.file}: ${b.bytes} bytes, xz ${b.xz.bytes} bytes`);
    }
  });

  test("the embedded program is minified, without a source map, version stamped", async () => {
    for (const b of buildInfo().binaries) {
      const program = readSection(await Bun.file(join(DIST, b.file)).bytes(), ".bun");
      if (!program) throw new Error(`${b.file}: no .bun section (not a bun --compile binary?)`);
      const text = Buffer.from(program);
      // A source map (or an unminified bundle) carries the source file names.
      for (const path of ["src/agent/", "src/gateway/", "src/bgp/"]) {
        expect(text.includes(path)).toBe(false);
      }
      expect(text.includes("sourceMappingURL")).toBe(false);
      // Minified: the whole program with its libraries is well under 1 MiB.
      expect(program.length).toBeLessThan(1024 * 1024);
      // The version was stamped in (not src/version.ts's "-dev" fallback).
      expect(text.includes(buildInfo().versions.binary)).toBe(true);
      console.log(`${b.file}: program ${program.length} bytes of ${b.bytes}`);
    }
  });
});

describe("what the binaries need from the system (ELF)", () => {
  const expected: Record<string, { machine: string; interpreter: string }> = {
    "linux-x64": { machine: "x86-64", interpreter: "/lib64/ld-linux-x86-64.so.2" },
    "linux-arm64": { machine: "aarch64", interpreter: "/lib/ld-linux-aarch64.so.1" },
    "linux-x64-musl": { machine: "x86-64", interpreter: "/lib/ld-musl-x86_64.so.1" },
    "linux-arm64-musl": { machine: "aarch64", interpreter: "/lib/ld-musl-aarch64.so.1" },
  };
  for (const target of TARGETS) {
    test(`${target.name}: ${expected[target.name]?.machine}, ${target.libc}`, async () => {
      const elf = readElf(await Bun.file(binaryPath(target)).bytes());
      expect(elf.machine).toBe(expected[target.name]?.machine as typeof elf.machine);
      expect(elf.interpreter).toBe(expected[target.name]?.interpreter);
      if (target.libc === "glibc") {
        // libc only: the .deb needs nothing but libc6, the .rpm nothing but glibc.
        for (const lib of elf.needed) {
          expect(lib).toMatch(
            /^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-.*)$/,
          );
        }
        expect(minimumGlibc(elf)).toBe("2.17");
      } else {
        // musl builds need the C++ runtime: declared in the .apk (libstdc++, libgcc) and the
        // .ipk (libstdcpp6, libgcc1).
        const arch = target.arch === "x64" ? "x86_64" : "aarch64";
        expect([...elf.needed].sort()).toEqual([`libc.musl-${arch}.so.1`, "libstdc++.so.6"]);
      }
    });
  }
});

describe("x64 glibc binary on this machine", () => {
  test.skipIf(process.arch !== "x64")(
    "--version prints the git version; --help lists the roles",
    async () => {
      const version = await run([binaryPath(x64), "--version"]);
      expect(version.stdout).toBe(`bgproxy ${buildInfo().versions.binary}\n`);
      const help = await run([binaryPath(x64), "--help"]);
      for (const role of ["agent", "gateway", "standalone"]) expect(help.stdout).toContain(role);
      const agentHelp = await run([binaryPath(x64), "agent", "--help"]);
      expect(agentHelp.stdout).toContain("--enable-md5-support");
    },
  );

  test.skipIf(process.arch !== "x64")(
    "called through a kbgp symlink it is the agent, with the reference manual's flags",
    async () => {
      const dir = makeTempDir("kbgp");
      try {
        const kbgp = join(dir, "kbgp");
        symlinkSync(binaryPath(x64), kbgp);
        const help = await run([kbgp, "--help"]);
        expect(help.stdout).toContain("--enable-md5-support");
        // No token: the agent's own configuration error (exit 2), the same for both forms.
        const env = { KENTIK_API_TOKEN: undefined, KENTIK_API_EMAIL: undefined };
        const viaLink = await run([kbgp, "--email", "ops@example.net"], { check: false, env });
        const leadingFlag = await run([binaryPath(x64), "--email", "ops@example.net"], {
          check: false,
          env,
        });
        expect(viaLink.code).toBe(2);
        expect(viaLink.stderr).toMatch(/token/i);
        expect(leadingFlag).toEqual(viaLink);
      } finally {
        removeTempDir(dir);
      }
    },
  );

  test.skipIf(process.arch !== "x64")(
    "standalone answers /hc and relays a BGP session",
    async () => {
      const s = await startStandalone([binaryPath(x64)], "bgproxy-x64");
      try {
        const hc = await getJson<{ status: string }>(`http://127.0.0.1:${s.httpPort}/hc`);
        expect(hc.status).toBe("ok");
        const { peerOpen, device } = await relayOneSession(s, 20_000);
        expect(peerOpen.asn).toBe(64512);
        expect(device.sessions).toBe(1);
      } finally {
        expect(await s.stop()).toBe(0);
      }
    },
  );

  test.skipIf(process.arch !== "x64" || Bun.which("strip") === null)(
    "strip turns the binary into a bare Bun runtime (why packages ship it unstripped)",
    async () => {
      const dir = makeTempDir("strip");
      try {
        const copy = join(dir, "bgproxy");
        copyFileSync(binaryPath(x64), copy);
        await run(["strip", copy], { timeoutMs: 60_000 });
        const r = await run([copy, "--version"], { check: false });
        expect(r.stdout).not.toContain("bgproxy");
        expect(r.stdout.trim()).toBe(buildInfo().bunVersion);
      } finally {
        removeTempDir(dir);
      }
    },
  );
});

function qemuPrefix(target: Target, cpu: string): string[] {
  const prefix = [QEMU[target.arch], "-cpu", cpu];
  if (target.arch === "arm64") prefix.push("-L", AARCH64_SYSROOT);
  return [...prefix, binaryPath(target)];
}

const noArm64Sysroot = existsSync(`${AARCH64_SYSROOT}/lib/ld-linux-aarch64.so.1`)
  ? ""
  : " [skipped: libc6-arm64-cross not installed]";
const armSkip = missing(QEMU.arm64) || noArm64Sysroot;

describe(`arm64 glibc binary under qemu-aarch64-static as a Cortex-A53${armSkip}`, () => {
  const running: { stop(): Promise<number> }[] = [];
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
  });

  test.skipIf(armSkip !== "")("--version and --help", async () => {
    const v = await run([...qemuPrefix(arm64, "cortex-a53"), "--version"], { timeoutMs: 60_000 });
    expect(v.stdout).toBe(`bgproxy ${buildInfo().versions.binary}\n`);
    const h = await run([...qemuPrefix(arm64, "cortex-a53"), "--help"], { timeoutMs: 60_000 });
    expect(h.stdout).toContain("standalone");
    expect(h.stdout).toContain(buildInfo().versions.binary);
  });

  test.skipIf(armSkip !== "")("standalone answers /hc and relays a BGP session", async () => {
    const s = await startStandalone(qemuPrefix(arm64, "cortex-a53"), "bgproxy-arm64", 90_000);
    running.push(s);
    const hc = await getJson<{ status: string }>(`http://127.0.0.1:${s.httpPort}/hc`);
    expect(hc.status).toBe("ok");
    const { peerOpen, device } = await relayOneSession(s, 60_000);
    expect(peerOpen.asn).toBe(64512);
    expect(peerOpen.holdTime).toBe(90);
    expect(device.state).toBe("established");
    expect(await s.stop()).toBe(0);
  });
});

const x64QemuSkip = missing(QEMU.x64);

describe(`x64 baseline binary under qemu-x86_64-static as a Nehalem (no AVX)${x64QemuSkip}`, () => {
  test.skipIf(x64QemuSkip !== "")("standalone relays a BGP session", async () => {
    const s = await startStandalone(qemuPrefix(x64, "Nehalem"), "bgproxy-x64-nehalem", 90_000);
    try {
      const { peerOpen } = await relayOneSession(s, 60_000);
      expect(peerOpen.asn).toBe(64512);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

// Debian has no musl libstdc++, so the musl builds run only where one is installed (Alpine).
const muslRuntime =
  ["x86_64", "aarch64"].some((a) => existsSync(`/lib/ld-musl-${a}.so.1`)) &&
  existsSync("/usr/lib/libstdc++.so.6");
describe(`musl binaries${muslRuntime ? "" : " [skipped: no musl libc with libstdc++ here (Alpine only)]"}`, () => {
  test.skipIf(!muslRuntime || process.arch !== "x64")("x64 musl --version", async () => {
    const r = await run([binaryPath(findTarget("linux-x64-musl")), "--version"]);
    expect(r.stdout).toBe(`bgproxy ${buildInfo().versions.binary}\n`);
  });
});
