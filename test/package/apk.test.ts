/**
 * The Alpine .apk packages: cut into their gzip streams and checked as apk-tools reads them
 * (control segment without end blocks, .PKGINFO field by field, datahash over the data
 * stream, per-file SHA-1 in pax headers), read whole by GNU tar, and signed with a throwaway
 * key whose signature openssl verifies. The OpenRC scripts: syntax, shellcheck, and the
 * values they give OpenRC.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  APK_DEPENDS,
  apkFileName,
  apkStreams,
  opensslSigner,
} from "../../scripts/packaging/apk.ts";
import { APK_ARCH, type Arch, targetFor } from "../../scripts/packaging/targets.ts";
import { run } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { binaryPath, buildInfo, IMAGE, missing, packagePath, sha256 } from "./support/artifacts.ts";
import { readTar } from "./support/tar-reader.ts";

const ARCHES: readonly Arch[] = ["x64", "arm64"];
const apk = (arch: Arch) => packagePath(join("alpine", APK_ARCH[arch], apkFileName(buildInfo())));

let work = "";
beforeAll(() => {
  work = makeTempDir("apk");
});
afterAll(() => removeTempDir(work));

/**
 * Cut concatenated gzip members apart: a member ends where the next gzip header starts and
 * the bytes before it decompress on their own.
 */
function gzipMembers(bytes: Uint8Array): Uint8Array[] {
  const members: Uint8Array[] = [];
  let start = 0;
  for (let i = 10; i < bytes.length - 3; i++) {
    if (bytes[i] !== 0x1f || bytes[i + 1] !== 0x8b || bytes[i + 2] !== 0x08) continue;
    const candidate = bytes.subarray(start, i);
    try {
      gunzipSync(candidate);
    } catch {
      continue;
    }
    members.push(candidate);
    start = i;
  }
  members.push(bytes.subarray(start));
  return members;
}

function sha1(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha1").update(data).digest("hex");
}

function pkginfoFields(text: string): [string, string][] {
  return text
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const m = l.match(/^([a-z_]+) = (.*)$/);
      if (!m?.[1]) throw new Error(`not a .PKGINFO line: ${l}`);
      return [m[1], m[2] ?? ""];
    });
}

describe("Alpine .apk", () => {
  for (const arch of ARCHES) {
    test(`${APK_ARCH[arch]}: two gzip streams, .PKGINFO field by field, datahash, per-file checksums`, async () => {
      const bytes = await Bun.file(apk(arch)).bytes();
      const [control, data, ...rest] = gzipMembers(bytes);
      if (!control || !data) throw new Error("fewer than two gzip streams");
      expect(rest).toEqual([]);

      const controlTar = readTar(gunzipSync(control));
      expect(controlTar.ended).toBe(false); // a tar segment: the data stream continues it
      expect(controlTar.members.map((m) => [m.name, m.mode.toString(8)])).toEqual([
        [".PKGINFO", "644"],
        [".pre-install", "755"],
      ]);
      const pkginfo = new TextDecoder().decode(controlTar.members[0]?.data);
      const installed = readTar(gunzipSync(data));
      const sizes = installed.members
        .filter((m) => m.type === "0")
        .reduce((n, m) => n + m.data.length, 0);
      expect(pkginfoFields(pkginfo)).toEqual([
        ["pkgname", "bgproxy"],
        ["pkgver", buildInfo().versions.apk],
        ["pkgdesc", "BGP proxy agent and gateway (relays router BGP sessions over gRPC)"],
        ["builddate", String(buildInfo().versions.sourceDateEpoch)],
        ["packager", expect.stringMatching(/<.+@.+>/) as unknown as string],
        ["size", String(sizes)],
        ["arch", APK_ARCH[arch]],
        ["origin", "bgproxy"],
        ["commit", buildInfo().versions.commit],
        ["maintainer", expect.stringMatching(/<.+@.+>/) as unknown as string],
        ["license", "Apache-2.0"],
        ["depend", "libstdc++"],
        ["depend", "libgcc"],
        ["datahash", sha256(data)],
      ]);
      expect(APK_DEPENDS).toEqual(["libstdc++", "libgcc"]);
      expect(pkginfo).toMatch(/^pkgver = \d+\.\d+\.\d+(_(alpha|beta|rc|pre|p)\d+)*-r\d+$/m);
      const preInstall = new TextDecoder().decode(controlTar.members[1]?.data);
      expect(preInstall).toContain("adduser -S -D -H");

      expect(installed.ended).toBe(true);
      const files = installed.members.filter((m) => m.type === "0");
      expect(Object.fromEntries(files.map((m) => [m.name, m.mode.toString(8)]))).toEqual({
        "etc/bgproxy/gateway.toml.sample": "644",
        "etc/conf.d/bgproxy": "600",
        "etc/conf.d/bgproxy-gateway": "644",
        "etc/init.d/bgproxy": "755",
        "etc/init.d/bgproxy-gateway": "755",
        "usr/bin/bgproxy": "755",
      });
      for (const m of files) {
        expect({ name: m.name, sum: m.pax.get("APK-TOOLS.checksum.SHA1") }).toEqual({
          name: m.name,
          sum: sha1(m.data),
        });
        expect([m.uid, m.gid, m.mtime]).toEqual([0, 0, buildInfo().versions.sourceDateEpoch]);
      }
      const binary = files.find((m) => m.name === "usr/bin/bgproxy")?.data ?? new Uint8Array();
      expect(sha256(binary)).toBe(
        sha256(await Bun.file(binaryPath(targetFor(arch, "musl"))).bytes()),
      );
    });

    test(`${APK_ARCH[arch]}: GNU tar reads the whole package as one archive`, async () => {
      const dir = join(work, `gnu-${arch}`);
      await run(["mkdir", "-p", dir]);
      await run(["tar", "--warning=no-unknown-keyword", "-xzf", apk(arch), "-C", dir], {
        timeoutMs: 60_000,
      });
      expect(readFileSync(join(dir, ".PKGINFO"), "utf8")).toContain("pkgname = bgproxy");
      expect(readFileSync(join(dir, "etc/init.d/bgproxy"), "utf8")).toBe(
        readFileSync(join(IMAGE, "alpine", "bgproxy.initd"), "utf8"),
      );
      expect(sha256(await Bun.file(join(dir, "usr/bin/bgproxy")).bytes())).toBe(
        sha256(await Bun.file(binaryPath(targetFor(arch, "musl"))).bytes()),
      );
      await run(["rm", "-rf", dir]);
    });
  }

  test.skipIf(missing("openssl") !== "")(
    "a signed package: the signature stream verifies with the public key",
    async () => {
      const key = join(work, "builder.pem");
      const pub = join(work, "builder.rsa.pub");
      await run(["openssl", "genrsa", "-out", key, "2048"], { timeoutMs: 60_000 });
      await run(["openssl", "rsa", "-in", key, "-pubout", "-out", pub]);
      const binary = new TextEncoder().encode("#!/bin/sh\necho stand-in\n");
      const streams = await apkStreams(
        buildInfo(),
        "x64",
        binary,
        opensslSigner(key, "builder.rsa.pub"),
      );
      if (!streams.signature) throw new Error("no signature stream");
      const sigTar = readTar(gunzipSync(streams.signature));
      expect(sigTar.ended).toBe(false);
      expect(sigTar.members.map((m) => m.name)).toEqual([".SIGN.RSA256.builder.rsa.pub"]);
      writeFileSync(join(work, "sig"), sigTar.members[0]?.data ?? new Uint8Array());
      writeFileSync(join(work, "control.gz"), streams.control);
      const ok = await run([
        "openssl",
        "dgst",
        "-sha256",
        "-verify",
        pub,
        "-signature",
        join(work, "sig"),
        join(work, "control.gz"),
      ]);
      expect(ok.stdout.trim()).toBe("Verified OK");
      // The signature covers the control stream, whose datahash covers the data stream.
      const pkginfo = new TextDecoder().decode(
        readTar(gunzipSync(streams.control)).members[0]?.data,
      );
      expect(pkginfo).toContain(`datahash = ${sha256(streams.data)}`);
    },
  );
});

describe(`OpenRC scripts${missing("shellcheck", "busybox")}`, () => {
  const scripts = [
    "bgproxy.initd",
    "bgproxy-gateway.initd",
    "bgproxy.pre-install",
    "bgproxy.confd",
    "bgproxy-gateway.confd",
  ].map((s) => join(IMAGE, "alpine", s));

  test.skipIf(missing("shellcheck", "busybox") !== "")(
    "sh -n, busybox ash -n, shellcheck",
    async () => {
      for (const s of scripts) {
        await run(["sh", "-n", s]);
        await run(["busybox", "sh", "-n", s]);
      }
      await run(["shellcheck", "-s", "sh", ...scripts]);
    },
  );

  test.skipIf(missing("busybox") !== "")(
    "with conf.d sourced first, as OpenRC does: what supervise-daemon is told",
    async () => {
      // OpenRC sources /etc/conf.d/<service>, then the script; print the variables it reads.
      const conf = join(work, "bgproxy.confd");
      writeFileSync(
        conf,
        readFileSync(join(IMAGE, "alpine", "bgproxy.confd"), "utf8")
          .replace('export KENTIK_API_EMAIL=""', 'export KENTIK_API_EMAIL="ops@example.net"')
          .replace('export KENTIK_API_TOKEN=""', 'export KENTIK_API_TOKEN="s3cret"')
          .replace(
            '#BGPROXY_OPTS="--listen 192.0.2.10:179"',
            'BGPROXY_OPTS="--listen 192.0.2.10:179"',
          ),
      );
      const probe = [
        "RC_SVCNAME=bgproxy",
        `. '${conf}'`,
        `. '${join(IMAGE, "alpine", "bgproxy.initd")}'`,
        'eerror() { echo "eerror: $*"; }',
        'printf "%s\\n" "command=$command" "command_args=$command_args" "command_user=$command_user" "supervisor=$supervisor" "command_background=$command_background" "capabilities=$capabilities" "no_new_privs=$no_new_privs" "respawn_delay=$respawn_delay"',
        'env | grep "^KENTIK_" | sort',
        "start_pre && echo start_pre=ok",
      ].join("\n");
      const r = await run(["busybox", "sh", "-c", probe]);
      expect(r.stdout.trim().split("\n")).toEqual([
        "command=/usr/bin/bgproxy",
        "command_args=agent --human-logs --listen 192.0.2.10:179",
        "command_user=bgproxy:bgproxy",
        "supervisor=supervise-daemon",
        "command_background=yes",
        "capabilities=^cap_net_bind_service,^cap_net_raw,^cap_net_admin",
        "no_new_privs=yes",
        "respawn_delay=5",
        "KENTIK_API_EMAIL=ops@example.net",
        "KENTIK_API_TOKEN=s3cret",
        "start_pre=ok",
      ]);
      // The gateway's script logs human lines too, as the agent's; its flags come after.
      const gateway = await run([
        "busybox",
        "sh",
        "-c",
        `RC_SVCNAME=bgproxy-gateway; . '${join(IMAGE, "alpine", "bgproxy-gateway.confd")}'; BGPROXY_GATEWAY_OPTS="--human-logs=false"; . '${join(IMAGE, "alpine", "bgproxy-gateway.initd")}'; echo "command_args=$command_args"`,
      ]);
      expect(gateway.stdout.trim()).toBe(
        "command_args=gateway --config /etc/bgproxy/gateway.toml --human-logs --human-logs=false",
      );
      // Without credentials the service refuses to start, with a message.
      const empty = await run([
        "busybox",
        "sh",
        "-c",
        `RC_SVCNAME=bgproxy; . '${join(IMAGE, "alpine", "bgproxy.confd")}'; . '${join(IMAGE, "alpine", "bgproxy.initd")}'; eerror() { echo "eerror: $*"; }; start_pre; echo "rc=$?"`,
      ]);
      expect(empty.stdout).toContain(
        "eerror: Set KENTIK_API_EMAIL and KENTIK_API_TOKEN in /etc/conf.d/bgproxy",
      );
      expect(empty.stdout).toContain("rc=1");

      // /etc/default/kbgp.env fills in what /etc/conf.d/bgproxy leaves empty; conf.d wins.
      const dir = makeTempDir("openrc-kbgp-env");
      try {
        const env = join(dir, "kbgp.env");
        writeFileSync(
          env,
          'KENTIK_API_EMAIL=env@example.net\nexport KENTIK_API_TOKEN="env-token"\nKENTIK_REGION=fra1\n',
        );
        const filled = await run([
          "busybox",
          "sh",
          "-c",
          `RC_SVCNAME=bgproxy; . '${join(IMAGE, "alpine", "bgproxy.confd")}'; KENTIK_API_EMAIL=conf@example.net; . '${join(IMAGE, "alpine", "bgproxy.initd")}'; KBGP_ENV='${env}'; eerror() { echo "eerror: $*"; }; start_pre; echo "rc=$? $KENTIK_API_EMAIL $KENTIK_API_TOKEN $KENTIK_REGION"`,
        ]);
        expect(filled.stdout.trim()).toBe("rc=0 conf@example.net env-token fra1");
      } finally {
        removeTempDir(dir);
      }
    },
  );
});
