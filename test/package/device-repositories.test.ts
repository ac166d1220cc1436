/**
 * The signed feeds of `npm run package` (dist/packages/{openwrt,openwrt-apk,alpine}) through
 * the users' own tools: opkg (OpenWrt 24.10), apk-tools 3 (OpenWrt 25.x and Alpine), usign,
 * built from ../shared/tools/pkg-managers. For each format, into an offline root:
 * install from the signed index (runtime libraries from a stub feed), the files where the
 * init system expects them, a wrong signature refused, an upgrade to a newer version that
 * keeps an edited config file, and a removal that leaves only that config file.
 * x86_64 is installed; the aarch64 indexes are read by the same tools (`apk` and `opkg`
 * select by the root's architecture).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  alpineFiles,
  apk3Files,
  ipkPackages,
  opkgFeedFiles,
  type RepositoryKeys,
  repositoryKeys,
} from "../../scripts/packaging/device-repositories.ts";
import {
  fingerprintHex,
  publicPem,
  throwawayRsaKey,
  usignPublicFile,
} from "../../scripts/packaging/feeds.ts";
import { targetFor } from "../../scripts/packaging/targets.ts";
import { run } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { binaryPath, buildInfo, IMAGE, PACKAGES, sha256 } from "./support/artifacts.ts";
import {
  listTree,
  offlineApkRoot,
  type PkgTools,
  pkgTools,
  runApk,
  toolsMissing,
} from "./support/pkg-tools.ts";
import {
  alpineStubRepository,
  apk3StubRepository,
  newerBuild,
  opkgStubFeed,
  writeTree,
} from "./support/stub-packages.ts";

const SKIP = toolsMissing();
const NEWER_BINARY = new TextEncoder().encode("#!/bin/sh\necho 'bgproxy v9.0.0 (upgrade test)'\n");

let tools: PkgTools;
let work: string;
/** The test's own keys: stub feeds and the newer version are signed with them. */
let testKeys: RepositoryKeys;

beforeAll(async () => {
  if (SKIP !== "") return;
  work = makeTempDir("pkg-managers");
  // Named apart from the feed's own key files (apk finds a v2 key by its file name).
  testKeys = { ...repositoryKeys({}), alpine: throwawayRsaKey("bgproxy-tests.rsa.pub") };
  tools = await pkgTools();
}, 600_000);

afterAll(() => {
  if (work) removeTempDir(work);
});

function muslX64(): Uint8Array {
  return readFileSync(binaryPath(targetFor("x64", "musl")));
}

/** The files of the root that are not the package manager's own state or the test shell. */
function leftovers(root: string): string[] {
  return listTree(
    root,
    /^(etc\/opkg|etc\/apk|usr\/lib\/opkg|lib\/apk\/db|lib\/apk\/exec|var\/|bin\/sh$|lib\/x86_64-linux-gnu|lib64\/|usr\/lib\/x86_64-linux-gnu)/,
  );
}

function expectInstalledFiles(root: string, initScript: string, initSource: string): void {
  expect(sha256(readFileSync(join(root, "usr/bin/bgproxy")))).toBe(sha256(muslX64()));
  expect(readlinkSync(join(root, "usr/bin/kbgp"))).toBe("bgproxy");
  expect(readFileSync(join(root, initScript), "utf8")).toBe(
    readFileSync(join(IMAGE, initSource), "utf8"),
  );
  expect(statSync(join(root, initScript)).mode & 0o777).toBe(0o755);
}

describe(`opkg feed (OpenWrt 24.10): real opkg and usign${SKIP}`, () => {
  const opkg = async (root: string, conf: string, ...args: string[]) =>
    run([tools.opkg, "-o", root, "-f", conf, ...args], { check: false, timeoutMs: 300_000 });

  /** A root that trusts `keys` (usign public key files), with feeds `feeds` (name → dir). */
  function opkgRoot(name: string, trusted: string[], feeds: Record<string, string>) {
    const root = join(work, name);
    mkdirSync(join(root, "etc/opkg/keys"), { recursive: true });
    mkdirSync(join(root, "var/lock"), { recursive: true });
    for (const file of trusted) {
      const text = readFileSync(file, "utf8");
      const fp = Buffer.from(text.split("\n")[1] ?? "", "base64")
        .subarray(2, 10)
        .toString("hex");
      writeFileSync(join(root, "etc/opkg/keys", fp), text);
    }
    // OpenWrt's /usr/sbin/opkg-key verify: opkg keeps the list gzipped; Packages is signed.
    const verify = join(root, "..", `${name}-opkg-key`);
    writeFileSync(
      verify,
      `#!/bin/sh\n[ "$1" = verify ] || exit 2\n(zcat "$3" 2>/dev/null || cat "$3") | ${tools.usign} -V -q -P ${root}/etc/opkg/keys -x "$2" -m -\n`,
    );
    chmodSync(verify, 0o755);
    const conf = join(root, "..", `${name}-opkg.conf`);
    writeFileSync(
      conf,
      [
        "dest root /",
        "lists_dir ext /var/opkg-lists",
        "arch all 1",
        "arch noarch 1",
        "arch x86_64 10",
        ...Object.entries(feeds).map(([feed, dir]) => `src/gz ${feed} file://${dir}`),
        "option check_signature 1",
        `option verify_program ${verify}`,
        "",
      ].join("\n"),
    );
    return { root, conf };
  }

  function distUsignKey(): string {
    const keys = readdirSync(join(PACKAGES, "keys")).filter((f) => /^[0-9a-f]{16}$/.test(f));
    expect(keys.length).toBe(1);
    return join(PACKAGES, "keys", keys[0] ?? "");
  }

  function stubFeed(): string {
    const dir = join(work, "opkg-stubs");
    writeTree(dir, opkgStubFeed(["libc", "libgcc1", "libstdcpp6"], "x86_64", testKeys));
    return dir;
  }

  function testKeyFile(): string {
    const file = join(work, `${fingerprintHex(testKeys.usign)}.pub`);
    writeFileSync(file, usignPublicFile(testKeys.usign));
    return file;
  }

  test.skipIf(SKIP !== "")(
    "install from the signed feed, deps from stubs; upgrade keeps the edited config; remove leaves only it",
    async () => {
      const { root, conf } = opkgRoot("opkg-root", [distUsignKey(), testKeyFile()], {
        bgproxy: join(PACKAGES, "openwrt"),
        stubs: stubFeed(),
      });
      const update = await opkg(root, conf, "update");
      expect(update.stdout.match(/Signature check passed\./g)?.length).toBe(2);
      const install = await opkg(root, conf, "install", "bgproxy");
      expect(install.stderr).toBe("");
      expect(install.code).toBe(0);
      for (const lib of ["libc", "libgcc1", "libstdcpp6"]) {
        expect(install.stdout).toContain(`Installing ${lib} (1.0-1)`);
      }
      expectInstalledFiles(root, "etc/init.d/bgproxy", "openwrt/bgproxy.init");
      expect(statSync(join(root, "etc/config/bgproxy")).mode & 0o777).toBe(0o600);
      expect(existsSync(join(root, "etc/capabilities/bgproxy.json"))).toBe(true);

      // A newer version, from a second feed signed with another trusted key.
      appendFileSync(join(root, "etc/config/bgproxy"), "\toption edited_by 'test'\n");
      const edited = readFileSync(join(root, "etc/config/bgproxy"), "utf8");
      const newer = join(work, "opkg-newer");
      const entries = ipkPackages(newerBuild(buildInfo()), "x64", NEWER_BINARY);
      writeTree(newer, opkgFeedFiles(entries, testKeys));
      appendFileSync(conf, `src/gz newer file://${newer}/openwrt\n`);
      expect((await opkg(root, conf, "update")).stdout).toContain("Signature check passed.");
      const upgrade = await opkg(root, conf, "upgrade", "bgproxy");
      expect(upgrade.code).toBe(0);
      expect(upgrade.stdout).toContain("Upgrading bgproxy");
      expect(readFileSync(join(root, "usr/bin/bgproxy"))).toEqual(Buffer.from(NEWER_BINARY));
      expect(readFileSync(join(root, "etc/config/bgproxy"), "utf8")).toBe(edited);

      const remove = await opkg(root, conf, "remove", "bgproxy");
      expect(remove.code).toBe(0);
      // The edited file, and the newer version's default that the upgrade put beside it.
      expect(leftovers(root)).toEqual(["etc/config/bgproxy", "etc/config/bgproxy-opkg"]);
    },
    300_000,
  );

  test.skipIf(SKIP !== "")("a feed signed by an untrusted key is refused", async () => {
    const { root, conf } = opkgRoot("opkg-untrusted", [testKeyFile()], {
      bgproxy: join(PACKAGES, "openwrt"),
      stubs: stubFeed(),
    });
    const update = await opkg(root, conf, "update");
    expect(update.stdout).toContain("Signature check failed.");
    const install = await opkg(root, conf, "install", "bgproxy");
    expect(install.code).not.toBe(0);
    expect(existsSync(join(root, "usr/bin/bgproxy"))).toBe(false);
  });
});

const apkRoot = (name: string, keyFiles: Record<string, string>) =>
  offlineApkRoot(join(work, name), keyFiles);
const apk = (root: string, ...args: string[]) => runApk(tools, root, ...args);

describe(`OpenWrt 25.x repository (apk v3, packages.adb): real apk-tools 3${SKIP}`, () => {
  const distIndex = () => join(PACKAGES, "openwrt-apk", "x86_64", "packages.adb");
  const stubIndex = () => {
    const dir = join(work, "apk3-stubs");
    writeTree(dir, apk3StubRepository(["libc", "libgcc1", "libstdcpp6"], "x86_64", testKeys));
    return join(dir, "packages.adb");
  };

  test.skipIf(SKIP !== "")(
    "install from the signed index, scripts run; upgrade keeps the edited config; remove leaves only it",
    async () => {
      const root = await apkRoot("apk3-root", {
        "bgproxy-openwrt.pem": readFileSync(join(PACKAGES, "keys", "bgproxy-openwrt.pem"), "utf8"),
        "test.pem": publicPem(testKeys.openwrtApk),
      });
      const add = await apk(
        root,
        "--initdb",
        "-X",
        distIndex(),
        "-X",
        stubIndex(),
        "add",
        "bgproxy",
      );
      expect(add.stderr).toBe("");
      expect(add.code).toBe(0);
      expect(add.stdout).toContain("Installing libstdcpp6 (1.0-r1)");
      expect(add.stdout).toMatch(/Executing bgproxy-.*\.post-install/);
      expectInstalledFiles(root, "etc/init.d/bgproxy", "openwrt/bgproxy.init");
      expect(statSync(join(root, "etc/config/bgproxy")).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(root, "lib/apk/packages/bgproxy.conffiles"), "utf8")).toBe(
        "/etc/config/bgproxy\n",
      );
      // The aarch64 indexes name their own architecture.
      for (const arch of ["aarch64_generic", "aarch64_cortex-a53", "aarch64_cortex-a72"]) {
        const dump = await run([
          tools.apk,
          "adbdump",
          join(PACKAGES, "openwrt-apk", arch, "packages.adb"),
        ]);
        expect(dump.stdout).toContain(`arch: ${arch}`);
      }

      appendFileSync(join(root, "etc/config/bgproxy"), "\toption edited_by 'test'\n");
      const edited = readFileSync(join(root, "etc/config/bgproxy"), "utf8");
      const newer = join(work, "apk3-newer");
      writeTree(newer, apk3Files(newerBuild(buildInfo()), "x64", NEWER_BINARY, testKeys));
      const newerIndex = join(newer, "openwrt-apk", "x86_64", "packages.adb");
      const upgrade = await apk(
        root,
        "-X",
        distIndex(),
        "-X",
        stubIndex(),
        "-X",
        newerIndex,
        "upgrade",
      );
      expect(upgrade.code).toBe(0);
      expect(upgrade.stdout).toContain("Upgrading bgproxy");
      expect(readFileSync(join(root, "usr/bin/bgproxy"))).toEqual(Buffer.from(NEWER_BINARY));
      expect(readFileSync(join(root, "etc/config/bgproxy"), "utf8")).toBe(edited);

      const del = await apk(root, "del", "bgproxy");
      expect(del.code).toBe(0);
      expect(leftovers(root)).toEqual(["etc/config/bgproxy"]);
    },
    300_000,
  );

  test.skipIf(SKIP !== "")("an index signed by an untrusted key is refused", async () => {
    const root = await apkRoot("apk3-untrusted", { "test.pem": publicPem(testKeys.openwrtApk) });
    const add = await apk(root, "--initdb", "-X", distIndex(), "-X", stubIndex(), "add", "bgproxy");
    expect(add.code).not.toBe(0);
    expect(add.stderr).toContain("UNTRUSTED signature");
    expect(existsSync(join(root, "usr/bin/bgproxy"))).toBe(false);
  });
});

describe(`Alpine repository (apk v2, APKINDEX.tar.gz): real apk-tools 3${SKIP}`, () => {
  const stubRepo = () => {
    const dir = join(work, "alpine-stubs");
    writeTree(dir, alpineStubRepository(["libgcc", "libstdc++"], "x86_64", testKeys));
    return dir;
  };
  const distKey = () => {
    const name = readdirSync(join(PACKAGES, "keys")).find((f) => f.endsWith(".rsa.pub")) ?? "";
    return { [name]: readFileSync(join(PACKAGES, "keys", name), "utf8") };
  };

  test.skipIf(SKIP !== "")(
    "install from the signed index; upgrade keeps the edited config; remove leaves only it",
    async () => {
      const root = await apkRoot("alpine-root", {
        ...distKey(),
        [testKeys.alpine.name]: publicPem(testKeys.alpine.privateKey),
      });
      const repos = ["-X", join(PACKAGES, "alpine"), "-X", stubRepo()];
      const add = await apk(root, "--initdb", ...repos, "add", "bgproxy");
      expect(add.stderr).toBe("");
      expect(add.code).toBe(0);
      expect(add.stdout).toContain("Installing libstdc++ (1.0-r1)");
      expectInstalledFiles(root, "etc/init.d/bgproxy", "alpine/bgproxy.initd");
      expect(statSync(join(root, "etc/conf.d/bgproxy")).mode & 0o777).toBe(0o600);

      appendFileSync(join(root, "etc/conf.d/bgproxy"), 'BGPROXY_OPTS="--log-level debug"\n');
      const edited = readFileSync(join(root, "etc/conf.d/bgproxy"), "utf8");
      const newer = join(work, "alpine-newer");
      writeTree(newer, await alpineFiles(newerBuild(buildInfo()), "x64", NEWER_BINARY, testKeys));
      const upgrade = await apk(root, ...repos, "-X", join(newer, "alpine"), "upgrade");
      expect(upgrade.code).toBe(0);
      expect(upgrade.stdout).toContain("Upgrading bgproxy");
      expect(readFileSync(join(root, "usr/bin/bgproxy"))).toEqual(Buffer.from(NEWER_BINARY));
      expect(readFileSync(join(root, "etc/conf.d/bgproxy"), "utf8")).toBe(edited);

      const del = await apk(root, "del", "bgproxy");
      expect(del.code).toBe(0);
      expect(leftovers(root)).toEqual(["etc/conf.d/bgproxy"]);
    },
    300_000,
  );

  test.skipIf(SKIP !== "")("an index signed by an untrusted key is refused", async () => {
    const root = await apkRoot("alpine-untrusted", {
      [testKeys.alpine.name]: publicPem(testKeys.alpine.privateKey),
    });
    const add = await apk(
      root,
      "--initdb",
      "-X",
      join(PACKAGES, "alpine"),
      "-X",
      stubRepo(),
      "add",
      "bgproxy",
    );
    expect(add.code).not.toBe(0);
    expect(add.stderr).toContain("UNTRUSTED signature");
    expect(existsSync(join(root, "usr/bin/bgproxy"))).toBe(false);
  });
});
