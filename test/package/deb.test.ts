/**
 * The Debian packages: control data and contents (dpkg-deb), lintian, the maintainer
 * scripts; then, as root, the amd64 package installed on this machine: files in place, the
 * service user, `systemd-analyze verify`/`security` on the units, the installed binary in
 * standalone mode answering /hc, the agent as the service user with only the unit's three
 * capabilities binding port 179, and a purge that removes it all.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { debFileName } from "../../scripts/packaging/deb.ts";
import { type Arch, DEB_ARCH, findTarget } from "../../scripts/packaging/targets.ts";
import { run, spawnManaged } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import {
  binaryPath,
  buildInfo,
  isRoot,
  missing,
  packagePath,
  parseControl,
  sha256,
} from "./support/artifacts.ts";
import {
  agentHealth,
  getJson,
  openSession,
  relayOneSession,
  startStandalone,
} from "./support/standalone-session.ts";

const ARCHES: readonly Arch[] = ["x64", "arm64"];

/** dpkg-query's --showformat for `fields`: "-f=${Status} ${Version}". */
function dpkgFormat(...fields: string[]): string {
  return `-f=${fields.map((f) => `\${${f}}`).join(" ")}`;
}
const deb = (arch: Arch) => packagePath(debFileName(buildInfo(), arch));

/** `dpkg-deb --contents` → path → "mode owner size". */
function contents(listing: string): Map<string, { mode: string; owner: string; size: number }> {
  const files = new Map<string, { mode: string; owner: string; size: number }>();
  for (const line of listing.trim().split("\n")) {
    const m = line.match(/^(\S+)\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+\.(\/\S*)/);
    if (!m?.[4]) throw new Error(`unexpected dpkg-deb --contents line: ${line}`);
    files.set(m[4].replace(/\/$/, "") || "/", {
      mode: m[1] ?? "",
      owner: m[2] ?? "",
      size: Number(m[3]),
    });
  }
  return files;
}

const EXPECTED_FILES: Record<string, string> = {
  "/usr/bin/bgproxy": "-rwxr-xr-x",
  "/usr/bin/kbgp": "lrwxrwxrwx",
  "/lib/systemd/system/bgproxy.service": "-rw-r--r--",
  "/lib/systemd/system/kbgp.service": "lrwxrwxrwx",
  "/lib/systemd/system/bgproxy-gateway.service": "-rw-r--r--",
  "/usr/lib/sysusers.d/bgproxy.conf": "-rw-r--r--",
  "/etc/default/bgproxy.env.sample": "-rw-r--r--",
  "/etc/default/kbgp.env.sample": "-rw-r--r--",
  "/etc/default/bgproxy-gateway.env.sample": "-rw-r--r--",
  "/etc/bgproxy/gateway.toml.sample": "-rw-r--r--",
  "/usr/share/man/man1/bgproxy.1.gz": "-rw-r--r--",
  "/usr/share/man/man1/kbgp.1.gz": "lrwxrwxrwx",
  "/usr/share/doc/bgproxy/copyright": "-rw-r--r--",
  "/usr/share/doc/bgproxy/changelog.gz": "-rw-r--r--",
  "/usr/share/lintian/overrides/bgproxy": "-rw-r--r--",
};

const CONFFILES = [
  "/etc/default/bgproxy.env.sample",
  "/etc/default/kbgp.env.sample",
  "/etc/default/bgproxy-gateway.env.sample",
  "/etc/bgproxy/gateway.toml.sample",
];

describe(`.deb control data and contents${missing("dpkg-deb")}`, () => {
  for (const arch of ARCHES) {
    test.skipIf(missing("dpkg-deb") !== "")(
      `${DEB_ARCH[arch]}: dpkg-deb --info, field by field`,
      async () => {
        const info = await run(["dpkg-deb", "--info", deb(arch)]);
        expect(info.stdout).toContain("new Debian package, version 2.0.");
        const fields = parseControl((await run(["dpkg-deb", "--field", deb(arch)])).stdout);
        expect([...fields.keys()]).toEqual([
          "Package",
          "Version",
          "Architecture",
          "Maintainer",
          "Installed-Size",
          "Depends",
          "Recommends",
          "Section",
          "Priority",
          "Description",
        ]);
        expect(fields.get("Package")).toBe("bgproxy");
        expect(fields.get("Version")).toBe(buildInfo().versions.deb);
        expect(fields.get("Architecture")).toBe(DEB_ARCH[arch]);
        expect(fields.get("Depends")).toBe("libc6 (>= 2.17)");
        expect(fields.get("Recommends")).toBe("ca-certificates");
        expect(fields.get("Section")).toBe("net");
        expect(fields.get("Priority")).toBe("optional");
        expect(fields.get("Maintainer")).toMatch(/^.+ <[^@\s]+@[^@\s]+>$/);
        expect(fields.get("Description")).toStartWith("BGP proxy agent and gateway\n");
        // Installed-Size is in KiB: the binary dominates.
        const kib = Number(fields.get("Installed-Size"));
        const binaryKib =
          buildInfo().binaries.find(
            (b) => b.target === findTarget(arch === "x64" ? "linux-x64" : "linux-arm64").name,
          )?.bytes ?? 0;
        expect(kib).toBeGreaterThan(binaryKib / 1024);
        expect(kib).toBeLessThan(binaryKib / 1024 + 100);
      },
    );

    test.skipIf(missing("dpkg-deb") !== "")(
      `${DEB_ARCH[arch]}: dpkg-deb --contents, modes, owners, control files`,
      async () => {
        const files = contents((await run(["dpkg-deb", "--contents", deb(arch)])).stdout);
        for (const [path, mode] of Object.entries(EXPECTED_FILES)) {
          expect({ path, mode: files.get(path)?.mode }).toEqual({ path, mode });
        }
        const regular = [...files].filter(([, f]) => /^[-l]/.test(f.mode));
        expect(regular.map(([p]) => p).sort()).toEqual(Object.keys(EXPECTED_FILES).sort());
        for (const [, f] of files) expect(f.owner).toBe("root/root");
        const glibc = findTarget(arch === "x64" ? "linux-x64" : "linux-arm64");
        expect(files.get("/usr/bin/bgproxy")?.size).toBe(statSync(binaryPath(glibc)).size);

        const dir = makeTempDir("deb-control");
        try {
          await run(["dpkg-deb", "--control", deb(arch), dir]);
          expect(readFileSync(join(dir, "conffiles"), "utf8").trim().split("\n").sort()).toEqual(
            [...CONFFILES].sort(),
          );
          for (const script of ["postinst", "prerm", "postrm"]) {
            expect(statSync(join(dir, script)).mode & 0o777).toBe(0o755);
            await run(["sh", "-n", join(dir, script)]);
          }
          // md5sums lists every non-conffile regular file (not the links).
          const md5 = readFileSync(join(dir, "md5sums"), "utf8").trim().split("\n");
          expect(md5.map((l) => `/${l.split("  ")[1]}`).sort()).toEqual(
            Object.entries(EXPECTED_FILES)
              .filter(([p, mode]) => !CONFFILES.includes(p) && mode.startsWith("-"))
              .map(([p]) => p)
              .sort(),
          );
          const binaryMd5 = new Bun.CryptoHasher("md5")
            .update(await Bun.file(binaryPath(glibc)).bytes())
            .digest("hex");
          expect(md5).toContain(`${binaryMd5}  usr/bin/bgproxy`);
        } finally {
          removeTempDir(dir);
        }
      },
    );
  }
});

describe(`lintian${missing("lintian")}`, () => {
  test.skipIf(missing("lintian") !== "")(
    "both .debs: no error, warning or info tag left, every override used",
    async () => {
      // In parallel: lintian takes ~20 s per package. With --show-overrides lintian exits 2
      // for overridden errors, so the tags are judged here, line by line.
      const results = await Promise.all(
        ARCHES.map((arch) =>
          run(["lintian", "--display-info", "--pedantic", "--show-overrides", deb(arch)], {
            timeoutMs: 240_000,
            check: false,
          }),
        ),
      );
      for (const r of results) {
        const tags = r.stdout.split("\n").filter((l) => /^[EWIPXO]: /.test(l));
        const shown = tags.filter((l) => !l.startsWith("O: "));
        // unused-override and mismatched-override would be among these.
        expect(shown).toEqual([]);
        const overridden = new Set(tags.map((l) => l.split(" ")[2]));
        expect([...overridden].sort()).toEqual([
          "embedded-library",
          "hardening-no-bindnow",
          "hardening-no-pie",
          "hardening-no-relro",
          "package-supports-alternative-init-but-no-init.d-script",
          "spelling-error-in-binary",
          "unstripped-binary-or-object",
        ]);
      }
    },
  );
});

describe(`maintainer scripts${missing("shellcheck")}`, () => {
  test.skipIf(missing("shellcheck") !== "")("sh -n and shellcheck", async () => {
    const scripts = ["postinst", "prerm", "postrm"].map((s) => join("image", "debian", s));
    for (const s of scripts) await run(["sh", "-n", s], { cwd: join(import.meta.dir, "..", "..") });
    await run(["shellcheck", "-s", "sh", ...scripts], { cwd: join(import.meta.dir, "..", "..") });
  });
});

const installSkip = !isRoot
  ? " [skipped: installing needs root]"
  : process.arch !== "x64"
    ? " [skipped: the installed .deb is the amd64 one]"
    : missing("dpkg", "systemd-analyze", "setpriv");

describe(`amd64 .deb installed on this machine${installSkip}`, () => {
  const skip = installSkip !== "";
  let installed = false;
  afterAll(async () => {
    if (installed) await run(["dpkg", "--purge", "bgproxy"], { timeoutMs: 60_000, check: false });
  });

  test.skipIf(skip)("dpkg -i puts the files in place and creates the service user", async () => {
    const already = await run(["dpkg-query", "-W", dpkgFormat("Status"), "bgproxy"], {
      check: false,
    });
    if (already.stdout.includes("installed")) {
      await run(["dpkg", "--purge", "bgproxy"], { timeoutMs: 60_000 });
    }
    await run(["dpkg", "-i", deb("x64")], { timeoutMs: 120_000 });
    installed = true;
    const status = await run(["dpkg-query", "-W", dpkgFormat("Status", "Version"), "bgproxy"]);
    expect(status.stdout).toBe(`install ok installed ${buildInfo().versions.deb}`);
    for (const path of Object.keys(EXPECTED_FILES)) expect(existsSync(path)).toBe(true);
    expect(sha256(await Bun.file("/usr/bin/bgproxy").bytes())).toBe(
      sha256(await Bun.file(binaryPath(findTarget("linux-x64"))).bytes()),
    );
    const conffiles = await run(["dpkg-query", "-W", dpkgFormat("Conffiles"), "bgproxy"]);
    for (const c of CONFFILES) expect(conffiles.stdout).toContain(c);
    const user = await run(["getent", "passwd", "bgproxy"]);
    expect(user.stdout).toMatch(/^bgproxy:x:\d+:\d+:[^:]*:\/:\/usr\/sbin\/nologin$/m);
    const version = await run(["/usr/bin/bgproxy", "--version"]);
    expect(version.stdout).toBe(`bgproxy ${buildInfo().versions.binary}\n`);
  });

  test.skipIf(skip)(
    "systemd-analyze verify accepts both units; security rates them OK",
    async () => {
      const units = [
        "/lib/systemd/system/bgproxy.service",
        "/lib/systemd/system/bgproxy-gateway.service",
      ];
      // verify also checks that ExecStart's binary and the Documentation= man page exist.
      const man = Bun.which("man") === null ? ["--man=no"] : [];
      const verify = await run(["systemd-analyze", "verify", ...man, ...units], {
        check: false,
        timeoutMs: 60_000,
      });
      expect({ code: verify.code, output: `${verify.stdout}${verify.stderr}`.trim() }).toEqual({
        code: 0,
        output: "",
      });
      for (const unit of units) {
        const sec = await run(
          ["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
          {
            check: false,
            timeoutMs: 60_000,
          },
        );
        const m = sec.stdout.match(/Overall exposure level for \S+: (\d+\.\d+) (\S+)/);
        console.log(m?.[0]);
        expect(Number(m?.[1])).toBeLessThan(3);
      }
    },
  );

  test.skipIf(skip)(
    "the installed binary starts in standalone mode, answers /hc (gateway and agent), relays a session",
    async () => {
      const s = await startStandalone(["/usr/bin/bgproxy"], "installed-bgproxy");
      try {
        // The gateway's /hc (the proof asked for), and the agent's own status server.
        expect(
          (await getJson<{ status: string }>(`http://127.0.0.1:${s.httpPort}/hc`)).status,
        ).toBe("ok");
        expect((await agentHealth(s, 30_000)).status).toBe("ok");
        const { peerOpen } = await relayOneSession(s, 20_000);
        expect(peerOpen.asn).toBe(64512);
      } finally {
        expect(await s.stop()).toBe(0);
      }
    },
  );

  test.skipIf(skip)(
    "as the bgproxy user, port 179 binds with the unit's capabilities and only with them",
    async () => {
      const caps = "+net_bind_service,+net_raw,+net_admin";
      const asUser = [
        "setpriv",
        "--reuid=bgproxy",
        "--regid=bgproxy",
        "--init-groups",
        "--no-new-privs",
      ];
      // A loopback address of its own, so a BGP daemon on 127.0.0.1:179 cannot be in the way.
      const args = [
        "standalone",
        "--listen",
        "127.42.0.1:179",
        "--gateway-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--metrics-port",
        "0",
      ];
      const without = await run(
        [...asUser, "--inh-caps=-all", "--bounding-set=-all", "/usr/bin/bgproxy", ...args],
        {
          check: false,
          timeoutMs: 30_000,
        },
      );
      expect(without.code).not.toBe(0);
      expect(`${without.stdout}${without.stderr}`).toContain("CAP_NET_BIND_SERVICE");

      const proc = spawnManaged(
        [
          ...asUser,
          `--inh-caps=-all,${caps}`,
          `--ambient-caps=-all,${caps}`,
          `--bounding-set=-all,${caps}`,
          "/usr/bin/bgproxy",
          ...args,
        ],
        { label: "bgproxy-as-user" },
      );
      try {
        const ready = await proc.waitForLine(
          /"msg":"standalone stack ready".*"router_peer_address":"([^"]+)"/,
          30_000,
        );
        expect(ready[1]).toBe("127.42.0.1:179");
        const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
        // CapEff: exactly NET_BIND_SERVICE (10), NET_ADMIN (12), NET_RAW (13).
        expect(status).toMatch(/^CapEff:\s+0000000000003400$/m);
        expect(status).toMatch(/^Uid:\s+(\d+)\s/m);
        expect(status).not.toMatch(/^Uid:\s+0\s/m);
        // A router session through port 179.
        const session = await openSession(179, 20_000, "127.42.0.1");
        session.socket.destroy();
        expect(session.peerOpen.asn).toBe(64512);
      } finally {
        expect(await proc.stop()).toBe(0);
      }
    },
  );

  test.skipIf(skip)("dpkg --purge removes it all", async () => {
    await run(["dpkg", "--purge", "bgproxy"], { timeoutMs: 60_000 });
    installed = false;
    for (const path of Object.keys(EXPECTED_FILES)) expect(existsSync(path)).toBe(false);
    const status = await run(["dpkg-query", "-W", dpkgFormat("Status"), "bgproxy"], {
      check: false,
    });
    expect(status.stdout).not.toContain("installed");
  });
});
