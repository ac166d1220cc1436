/**
 * Keys given to `npm run package` (--usign-key, --openwrt-apk-key), made by the users' own
 * tools (usign -G, openssl), sign what the real usign and apk-tools 3 then accept.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repositoryKeys } from "../../scripts/packaging/device-repositories.ts";
import { fingerprintHex, usignSign } from "../../scripts/packaging/feeds.ts";
import { run } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import {
  offlineApkRoot,
  type PkgTools,
  pkgTools,
  runApk,
  toolsMissing,
} from "./support/pkg-tools.ts";
import { apk3StubRepository, writeTree } from "./support/stub-packages.ts";

const SKIP = toolsMissing();
let tools: PkgTools;
let work: string;

beforeAll(async () => {
  if (SKIP !== "") return;
  work = makeTempDir("feed-keys");
  tools = await pkgTools();
}, 600_000);

afterAll(() => {
  if (work) removeTempDir(work);
});

describe(`keys given to npm run package, made by the users' tools${SKIP}`, () => {
  test.skipIf(SKIP !== "")("a usign -G secret key signs; usign -V accepts", async () => {
    const dir = join(work, "given-usign");
    mkdirSync(dir, { recursive: true });
    await run([tools.usign, "-G", "-s", join(dir, "key.sec"), "-p", join(dir, "key.pub")]);
    const keys = repositoryKeys({ usignKey: join(dir, "key.sec") });
    expect(keys.throwaway).toEqual(["openwrt-apk", "alpine"]);
    const message = new TextEncoder().encode("Package: bgproxy\n");
    writeFileSync(join(dir, "Packages"), message);
    writeFileSync(join(dir, "Packages.sig"), usignSign(keys.usign, message));
    const fingerprint = await run([tools.usign, "-F", "-p", join(dir, "key.pub")]);
    expect(fingerprint.stdout.trim()).toBe(fingerprintHex(keys.usign));
    const verify = await run(
      [
        tools.usign,
        "-V",
        "-p",
        join(dir, "key.pub"),
        "-m",
        join(dir, "Packages"),
        "-x",
        join(dir, "Packages.sig"),
      ],
      { check: false },
    );
    expect(verify.code).toBe(0);
  });

  test.skipIf(SKIP !== "")(
    "an openssl EC key signs packages.adb; apk trusts its public half",
    async () => {
      const dir = join(work, "given-ec");
      mkdirSync(dir, { recursive: true });
      const pem = join(dir, "private.pem");
      await run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pem]);
      const pub = (await run(["openssl", "ec", "-in", pem, "-pubout"])).stdout;
      const keys = repositoryKeys({ openwrtApkKey: pem });
      writeTree(dir, apk3StubRepository(["libc"], "x86_64", keys));
      const root = await offlineApkRoot(join(work, "given-ec-root"), { "given.pem": pub });
      const add = await runApk(
        tools,
        root,
        "--initdb",
        "-X",
        join(dir, "packages.adb"),
        "add",
        "libc",
      );
      expect(add.stderr).toBe("");
      expect(add.code).toBe(0);
    },
  );
});
