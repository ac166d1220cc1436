/**
 * The OpenWrt .ipk packages, unpacked with GNU tar and checked field by field; the procd
 * init script run with stand-ins for UCI and procd (under dash and busybox ash), its
 * command line then handed to the real binary, which must accept it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { IPK_DEPENDS, ipkFileName } from "../../scripts/packaging/ipk.ts";
import { type Arch, findTarget, IPK_ARCHES, targetFor } from "../../scripts/packaging/targets.ts";
import { run, spawnManaged } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import {
  binaryPath,
  buildInfo,
  IMAGE,
  imageText,
  missing,
  packagePath,
  parseControl,
  sha256,
} from "./support/artifacts.ts";
import { type ProcdInstance, parseUci, runProcdInit } from "./support/init-harness.ts";
import { readTar } from "./support/tar-reader.ts";

const PACKAGES: readonly { arch: Arch; ipkArch: string }[] = (["x64", "arm64"] as const).flatMap(
  (arch) => IPK_ARCHES[arch].map((ipkArch) => ({ arch, ipkArch })),
);

let work = "";
beforeAll(() => {
  work = makeTempDir("ipk");
});
afterAll(() => removeTempDir(work));

async function unpack(ipkArch: string): Promise<string> {
  const dir = join(work, ipkArch);
  await run(["mkdir", "-p", join(dir, "control"), join(dir, "data")]);
  const file = packagePath(join("openwrt", ipkFileName(buildInfo(), ipkArch)));
  const listing = await run(["tar", "-tzf", file], { timeoutMs: 60_000 });
  // ipkg-build's order and names.
  expect(listing.stdout.trim().split("\n")).toEqual([
    "./debian-binary",
    "./data.tar.gz",
    "./control.tar.gz",
  ]);
  await run(["tar", "-xzf", file, "-C", dir], { timeoutMs: 60_000 });
  await run(["tar", "-xzf", join(dir, "control.tar.gz"), "-C", join(dir, "control")]);
  await run(["tar", "-xzf", join(dir, "data.tar.gz"), "-C", join(dir, "data")], {
    timeoutMs: 60_000,
  });
  return dir;
}

describe("OpenWrt .ipk", () => {
  for (const { arch, ipkArch } of PACKAGES) {
    test(`${ipkArch}: archive layout, control fields, conffiles, scripts, data`, async () => {
      const dir = await unpack(ipkArch);
      expect(readFileSync(join(dir, "debian-binary"), "utf8")).toBe("2.0\n");

      const control = parseControl(readFileSync(join(dir, "control", "control"), "utf8"));
      expect(Object.fromEntries(control)).toEqual({
        Package: "bgproxy",
        Version: buildInfo().versions.deb,
        Depends: "libc, libstdcpp6, libgcc1",
        Source: "bgproxy",
        SourceName: "bgproxy",
        License: "Apache-2.0",
        Section: "net",
        SourceDateEpoch: String(buildInfo().versions.sourceDateEpoch),
        Maintainer: expect.stringMatching(/^.+ <[^@\s]+@[^@\s]+>$/) as unknown as string,
        "Require-User": "bgproxy:bgproxy",
        Architecture: ipkArch,
        // ipkg-build's value: the uncompressed data tar's size.
        "Installed-Size": String(
          (
            await run(["sh", "-c", `gzip -dc "$1" | wc -c`, "sh", join(dir, "data.tar.gz")])
          ).stdout.trim(),
        ),
        Description: expect.stringContaining("BGP sessions") as unknown as string,
      });
      expect(IPK_DEPENDS).toEqual(["libc", "libstdcpp6", "libgcc1"]);
      expect(readFileSync(join(dir, "control", "conffiles"), "utf8")).toBe("/etc/config/bgproxy\n");
      for (const script of ["postinst", "prerm"]) {
        expect(statSync(join(dir, "control", script)).mode & 0o777).toBe(0o755);
        const text = readFileSync(join(dir, "control", script), "utf8");
        expect(text).toStartWith("#!/bin/sh\n");
        expect(text).toContain(`default_${script} "$0" "$@"`);
      }

      const data = readTar(gunzipSync(await Bun.file(join(dir, "data.tar.gz")).bytes()));
      expect(data.ended).toBe(true);
      const files = Object.fromEntries(
        data.members.filter((m) => m.type === "0").map((m) => [m.name, m.mode.toString(8)]),
      );
      expect(files).toEqual({
        "./usr/bin/bgproxy": "755",
        "./etc/init.d/bgproxy": "755",
        "./etc/config/bgproxy": "600",
        "./etc/capabilities/bgproxy.json": "644",
      });
      for (const m of data.members) expect([m.uid, m.gid]).toEqual([0, 0]);
      const binary = await Bun.file(join(dir, "data/usr/bin/bgproxy")).bytes();
      expect(sha256(binary)).toBe(
        sha256(await Bun.file(binaryPath(targetFor(arch, "musl"))).bytes()),
      );
      expect(readFileSync(join(dir, "data/etc/init.d/bgproxy"), "utf8")).toBe(
        imageText("openwrt/bgproxy.init"),
      );
      const caps = JSON.parse(
        readFileSync(join(dir, "data/etc/capabilities/bgproxy.json"), "utf8"),
      );
      for (const set of ["bounding", "effective", "ambient", "permitted", "inheritable"]) {
        expect([...caps[set]].sort()).toEqual([
          "CAP_NET_ADMIN",
          "CAP_NET_BIND_SERVICE",
          "CAP_NET_RAW",
        ]);
      }
      await run(["rm", "-rf", dir]);
    });
  }
});

const shells: { name: string; argv: string[] }[] = [{ name: "sh", argv: ["sh"] }];
if (Bun.which("busybox") !== null) shells.push({ name: "busybox ash", argv: ["busybox", "sh"] });

describe(`procd init script (/etc/init.d/bgproxy)${missing("shellcheck", "busybox")}`, () => {
  const init = join(IMAGE, "openwrt", "bgproxy.init");

  test.skipIf(missing("shellcheck", "busybox") !== "")(
    "sh -n, busybox ash -n, shellcheck",
    async () => {
      await run(["sh", "-n", init]);
      await run(["busybox", "sh", "-n", init]);
      for (const s of ["postinst", "prerm"])
        await run(["busybox", "sh", "-n", join(IMAGE, "openwrt", s)]);
      await run([
        "shellcheck",
        init,
        join(IMAGE, "openwrt", "postinst"),
        join(IMAGE, "openwrt", "prerm"),
      ]);
    },
  );

  test("the shipped UCI config: disabled, standard listeners, the agent's defaults", () => {
    const uci = parseUci(imageText("openwrt/bgproxy.config"));
    const main = uci.get("main");
    expect(main?.type).toBe("agent");
    expect(Object.fromEntries(main?.options ?? [])).toEqual({
      enabled: "0",
      email: "",
      token: "",
      md5: "0",
      metrics_addr: "127.0.0.1",
      metrics_port: "20920",
      log_level: "info",
      human_logs: "1",
      user: "bgproxy",
    });
    expect(main?.lists.get("listen")).toEqual(["0.0.0.0:179", "[::]:179"]);
  });

  for (const shell of shells) {
    test(`${shell.name}: disabled by default: no instance`, async () => {
      const uci = parseUci(imageText("openwrt/bgproxy.config"));
      const r = await runProcdInit(shell.argv, init, uci, work);
      expect(r.opened).toBe(false);
      expect(r.triggers).toEqual(["bgproxy"]);
    });

    test(`${shell.name}: enabled without email or token: no instance, a message`, async () => {
      const uci = parseUci(imageText("openwrt/bgproxy.config"));
      uci.get("main")?.options.set("enabled", "1");
      uci.get("main")?.options.set("email", "ops@example.net");
      const r = await runProcdInit(shell.argv, init, uci, work);
      expect(r.opened).toBe(false);
      expect(r.stderr).toContain("bgproxy: set email and token in /etc/config/bgproxy");
    });

    test(`${shell.name}: /etc/default/kbgp.env fills in what UCI leaves empty; UCI wins`, async () => {
      const uci = parseUci(imageText("openwrt/bgproxy.config"));
      const main = uci.get("main");
      main?.options.set("enabled", "1");
      main?.options.set("email", "uci@example.net");
      const env = join(work, "kbgp.env");
      writeFileSync(
        env,
        [
          "KENTIK_API_EMAIL=env@example.net",
          'KENTIK_API_TOKEN="env-token"',
          "export KENTIK_REGION=fra1",
          "KENTIK_ENABLE_MD5=true",
          "KENTIK_SITE='7'",
          "",
        ].join("\n"),
      );
      const r = await runProcdInit(shell.argv, init, uci, work, {
        UJAIL: "/nonexistent/ujail",
        KBGP_ENV: env,
      });
      const flag = (name: string) => r.command[r.command.indexOf(name) + 1];
      expect(flag("--email")).toBe("uci@example.net");
      expect(flag("--region")).toBe("fra1");
      expect(flag("--site-id")).toBe("7");
      expect(flag("--enable-md5-support")).toBe("true");
      expect(Object.fromEntries(r.env)).toEqual({ KENTIK_API_TOKEN: "env-token" });
    });

    test(`${shell.name}: enabled defaults → agent flags, token in the environment, respawn, logd`, async () => {
      const uci = parseUci(imageText("openwrt/bgproxy.config"));
      const main = uci.get("main");
      main?.options.set("enabled", "1");
      main?.options.set("email", "ops@example.net");
      main?.options.set("token", "s3cret-token");
      const r = await runProcdInit(shell.argv, init, uci, work, { UJAIL: "/nonexistent/ujail" });
      expect(r.command).toEqual([
        "/usr/bin/bgproxy",
        "agent",
        "--email",
        "ops@example.net",
        "--listen",
        "0.0.0.0:179",
        "--listen",
        "[::]:179",
        "--metrics-addr",
        "127.0.0.1",
        "--metrics-port",
        "20920",
        "--log-level",
        "info",
        "--human-logs",
      ]);
      expect(r.command.join(" ")).not.toContain("s3cret");
      expect(Object.fromEntries(r.env)).toEqual({ KENTIK_API_TOKEN: "s3cret-token" });
      const param = (key: string) => r.calls.find((c) => c.verb === "set" && c.key === key)?.values;
      expect(param("respawn")).toEqual(["3600", "5", "5"]);
      expect(param("stdout")).toEqual(["1"]);
      expect(param("stderr")).toEqual(["1"]);
      expect(param("file")).toEqual(["/etc/config/bgproxy"]);
      // No ujail: runs as root, no capability file.
      expect(param("user")).toBeUndefined();
      expect(param("capabilities")).toBeUndefined();
    });

    test(`${shell.name}: with ujail → user bgproxy, the capability file, no_new_privs`, async () => {
      const uci = parseUci(imageText("openwrt/bgproxy.config"));
      uci.get("main")?.options.set("enabled", "1");
      uci.get("main")?.options.set("email", "ops@example.net");
      uci.get("main")?.options.set("token", "s3cret-token");
      const r = await runProcdInit(shell.argv, init, uci, work, {
        UJAIL: "/bin/true",
        CAPABILITIES: join(IMAGE, "openwrt", "bgproxy.capabilities.json"),
      });
      const param = (key: string) => r.calls.find((c) => c.verb === "set" && c.key === key)?.values;
      expect(
        r.calls.some((c) => c.verb === "add" && c.key === "jail" && c.values[0] === "bgproxy"),
      ).toBe(true);
      expect(param("user")).toEqual(["bgproxy"]);
      expect(param("group")).toEqual(["bgproxy"]);
      expect(param("no_new_privs")).toEqual(["1"]);
      expect(param("capabilities")).toEqual([join(IMAGE, "openwrt", "bgproxy.capabilities.json")]);
      uci.get("main")?.options.set("user", "root");
      const asRoot = await runProcdInit(shell.argv, init, uci, work, { UJAIL: "/bin/true" });
      expect(asRoot.calls.some((c) => c.key === "user")).toBe(false);
    });
  }

  test.skipIf(process.arch !== "x64")(
    "every UCI option maps to a flag the real agent accepts",
    async () => {
      const uci = parseUci(imageText("openwrt/bgproxy.config"));
      const main = uci.get("main");
      if (!main) throw new Error("no main section");
      const set = (k: string, v: string) => main.options.set(k, v);
      set("enabled", "1");
      set("email", "ops@example.net");
      set("token", "s3cret-token");
      set("region", "fra1");
      set("target", "127.0.0.1:9");
      set("ca_file", join(IMAGE, "..", "test", "package", "support", "artifacts.ts")); // any readable file
      set("tls_server_name", "gateway.example.net");
      main.lists.set("listen", ["127.0.0.1:0", "127.0.0.2:0"]);
      set("site", "7");
      set("md5", "0");
      set("metrics_addr", "127.0.0.1");
      set("metrics_port", "0");
      set("log_level", "debug");
      set("multi", "4");
      set("human_logs", "0");
      set("disable_log_export", "1");
      set("disable_metrics_export", "1");
      set("https_proxy", "http://127.0.0.1:9");
      set("no_proxy", "*");
      const r: ProcdInstance = await runProcdInit(
        ["sh"],
        join(IMAGE, "openwrt", "bgproxy.init"),
        uci,
        work,
      );
      expect(r.command).toContain("--disable-log-export");
      expect(r.command).toContain("--disable-metrics-export");
      expect(r.command).not.toContain("--human-logs");
      expect(r.command).toContain("--tls-server-name");
      expect(Object.fromEntries(r.env)).toEqual({
        KENTIK_API_TOKEN: "s3cret-token",
        HTTPS_PROXY: "http://127.0.0.1:9",
        NO_PROXY: "*",
      });
      const [, ...args] = r.command;
      const agent = spawnManaged([binaryPath(findTarget("linux-x64")), ...args], {
        label: "agent-from-uci",
        env: {
          ...Object.fromEntries(r.env),
          HTTP_PROXY: undefined,
          http_proxy: undefined,
          https_proxy: undefined,
        },
      });
      try {
        const line = await agent.waitForLine(/"msg":"agent started"/, 20_000);
        const started = JSON.parse(line.input ?? "{}") as {
          listeners: string[];
          target: string;
          multi: number;
        };
        expect(started.target).toBe("127.0.0.1:9");
        expect(started.multi).toBe(4);
        expect(started.listeners).toHaveLength(2);
        expect(started.listeners[0]).toMatch(/^127\.0\.0\.1:\d+$/);
        expect(started.listeners[1]).toMatch(/^127\.0\.0\.2:\d+$/);
        const status = await agent.waitForLine(
          /"msg":"status and metrics endpoint listening"/,
          20_000,
        );
        expect(JSON.parse(status.input ?? "{}")).toMatchObject({
          log_export: "disabled",
          metrics_export: "disabled",
        });
        expect(agent.output()).not.toContain("s3cret-token");
      } finally {
        await agent.stop();
      }
    },
  );
});
