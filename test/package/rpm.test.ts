/**
 * The RPMs, read with Debian's rpm tools: header fields (rpm -qip), file list with modes and
 * owners (rpm -qlvp), config files, scriptlets, dependencies, and the payload extracted with
 * rpm2cpio: the binary inside is byte for byte the build's (no brp-strip ran on it).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rpmFileName } from "../../scripts/packaging/rpm.ts";
import { type Arch, RPM_ARCH, targetFor } from "../../scripts/packaging/targets.ts";
import { run } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { binaryPath, buildInfo, missing, packagePath, sha256 } from "./support/artifacts.ts";

const ARCHES: readonly Arch[] = ["x64", "arm64"];
const rpm = (arch: Arch) => packagePath(rpmFileName(buildInfo(), arch));
const skip = missing("rpm", "rpm2cpio", "cpio");

const FILES: Record<string, string> = {
  "/usr/bin/bgproxy": "-rwxr-xr-x",
  "/usr/bin/kbgp": "lrwxrwxrwx",
  "/usr/lib/systemd/system/bgproxy.service": "-rw-r--r--",
  "/usr/lib/systemd/system/kbgp.service": "lrwxrwxrwx",
  "/usr/lib/systemd/system/bgproxy-gateway.service": "-rw-r--r--",
  "/usr/lib/sysusers.d/bgproxy.conf": "-rw-r--r--",
  "/etc/bgproxy": "drwxr-xr-x",
  "/etc/bgproxy/gateway.toml.sample": "-rw-r--r--",
  "/etc/default/bgproxy.env.sample": "-rw-r--r--",
  "/etc/default/kbgp.env.sample": "-rw-r--r--",
  "/etc/default/bgproxy-gateway.env.sample": "-rw-r--r--",
  "/usr/share/man/man1/bgproxy.1.gz": "-rw-r--r--",
  "/usr/share/man/man1/kbgp.1.gz": "lrwxrwxrwx",
  "/usr/share/licenses/bgproxy/copyright": "-rw-r--r--",
};

function query(file: string, format: string): Promise<string> {
  return run(["rpm", "-qp", "--queryformat", format, file]).then((r) => r.stdout);
}

describe(`RPM packages${skip}`, () => {
  for (const arch of ARCHES) {
    test.skipIf(skip !== "")(`${RPM_ARCH[arch]}: rpm -qip, field by field`, async () => {
      const info = (await run(["rpm", "-qip", rpm(arch)])).stdout;
      const field = (name: string) => info.match(new RegExp(`^${name}\\s*: (.*)$`, "m"))?.[1];
      expect(field("Name")).toBe("bgproxy");
      expect(field("Version")).toBe(buildInfo().versions.rpm);
      expect(field("Release")).toBe("1");
      expect(field("Architecture")).toBe(RPM_ARCH[arch]);
      expect(field("License")).toBe("Apache-2.0 AND MIT AND BSD-3-Clause");
      expect(field("Summary")).toBe("BGP proxy agent and gateway");
      expect(info).toContain(`Built from git commit ${buildInfo().versions.commit}.`);
      // Reproducible: the build time is the commit's.
      expect(await query(rpm(arch), "%{BUILDTIME}")).toBe(
        String(buildInfo().versions.sourceDateEpoch),
      );
    });

    test.skipIf(skip !== "")(
      `${RPM_ARCH[arch]}: rpm -qlvp, config files, dependencies, scriptlets`,
      async () => {
        const listing = (await run(["rpm", "-qlvp", rpm(arch)])).stdout.trim().split("\n");
        const files = new Map(
          listing.map((l) => {
            const parts = l.replace(/ -> \S+$/, "").split(/\s+/);
            return [parts.at(-1) ?? "", { mode: parts[0], owner: `${parts[2]}/${parts[3]}` }];
          }),
        );
        expect([...files.keys()].sort()).toEqual(Object.keys(FILES).sort());
        for (const [path, mode] of Object.entries(FILES)) {
          expect({ path, ...files.get(path) }).toEqual({ path, mode, owner: "root/root" });
        }
        const configs = (await run(["rpm", "-qcp", rpm(arch)])).stdout.trim().split("\n").sort();
        expect(configs).toEqual([
          "/etc/bgproxy/gateway.toml.sample",
          "/etc/default/bgproxy-gateway.env.sample",
          "/etc/default/bgproxy.env.sample",
          "/etc/default/kbgp.env.sample",
        ]);
        const requires = (await run(["rpm", "-qp", "--requires", rpm(arch)])).stdout.split("\n");
        // rpmbuild read the ELF: glibc 2.17 symbols, nothing beyond libc.
        expect(requires).toContain("libc.so.6(GLIBC_2.17)(64bit)");
        expect(requires).toContain("ca-certificates");
        expect(requires).toContain("shadow-utils");
        const libs = requires.filter((r) => r.includes(".so"));
        for (const lib of libs)
          expect(lib).toMatch(/^(libc|libm|libdl|libpthread|ld-linux-[\w-]+)\.so/);
        const scripts = (await run(["rpm", "-qp", "--scripts", rpm(arch)])).stdout;
        expect(scripts).toContain("preinstall scriptlet");
        expect(scripts).toMatch(/useradd --system --gid bgproxy .* bgproxy/s);
        expect(scripts).toContain("postuninstall scriptlet");
        for (const m of scripts.matchAll(
          /scriptlet \(using \/bin\/sh\):\n([\s\S]*?)(?=\n\S+ scriptlet|$)/g,
        )) {
          const r = await run(["sh", "-n"], { stdin: m[1] ?? "" });
          expect(r.code).toBe(0);
        }
      },
    );

    test.skipIf(skip !== "")(
      `${RPM_ARCH[arch]}: the payload holds the unstripped binary and the units`,
      async () => {
        const dir = makeTempDir("rpm");
        try {
          await run(["sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", rpm(arch)], {
            cwd: dir,
            timeoutMs: 120_000,
          });
          const binary = await Bun.file(join(dir, "usr/bin/bgproxy")).bytes();
          expect(sha256(binary)).toBe(
            sha256(await Bun.file(binaryPath(targetFor(arch, "glibc"))).bytes()),
          );
          const unit = readFileSync(join(dir, "usr/lib/systemd/system/bgproxy.service"), "utf8");
          expect(unit).toContain("EnvironmentFile=-/etc/default/bgproxy.env");
        } finally {
          removeTempDir(dir);
        }
      },
    );
  }
});
