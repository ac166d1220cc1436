/**
 * The sources in image/ that every package shares: the systemd units (the settings the
 * issue asks for), the env sample (the reference product's variables, accepted by the real
 * agent), the gateway sample (accepted by the real gateway), and the Dockerfile (checked
 * for what it copies and runs: no Docker engine runs here, and hadolint is not packaged by
 * Debian).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemdUnits } from "../../scripts/packaging/payload.ts";
import { DEB_ARCH, findTarget, TARGETS } from "../../scripts/packaging/targets.ts";
import { run, spawnManaged } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { binaryPath, IMAGE, imageText, missing, ROOT } from "./support/artifacts.ts";

/** systemd unit → section → key → values (repeated keys kept in order). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const section = line.match(/^\[(.+)\]$/);
    if (section?.[1]) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`not a unit line: ${raw}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

describe("systemd units", () => {
  test("bgproxy.service: dedicated user, exactly three capabilities, hardening, restart, env file", () => {
    const service = parseUnit(imageText("systemd/bgproxy.service")).get("Service");
    const one = (k: string) => service?.get(k)?.at(-1);
    expect(one("User")).toBe("bgproxy");
    expect(one("Group")).toBe("bgproxy");
    expect(one("ExecStart")).toBe("/usr/bin/bgproxy agent --human-logs $BGPROXY_OPTS");
    // The reference product's env file first, ours last (it wins); neither is required.
    expect(service?.get("EnvironmentFile")).toEqual([
      "-/etc/default/kbgp.env",
      "-/etc/default/bgproxy.env",
    ]);
    expect(one("Restart")).toBe("on-failure");
    expect(one("RestartPreventExitStatus")).toBe("2");
    const caps = "CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_NET_ADMIN";
    expect(one("AmbientCapabilities")).toBe(caps);
    expect(one("CapabilityBoundingSet")).toBe(caps);
    for (const [k, v] of Object.entries({
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectControlGroups: "yes",
      RestrictSUIDSGID: "yes",
    })) {
      expect({ [k]: one(k) }).toEqual({ [k]: v });
    }
    // The JIT needs W+X memory.
    expect(one("MemoryDenyWriteExecute")).toBeUndefined();
    expect(one("RestrictAddressFamilies")?.split(" ")).toContain("AF_PACKET");
  });

  test("bgproxy-gateway.service: same user, config file condition, only NET_BIND_SERVICE, human logs as the agent", () => {
    const unit = parseUnit(imageText("systemd/bgproxy-gateway.service"));
    const one = (k: string) => unit.get("Service")?.get(k)?.at(-1);
    expect(unit.get("Unit")?.get("ConditionPathExists")).toEqual(["/etc/bgproxy/gateway.toml"]);
    expect(one("User")).toBe("bgproxy");
    expect(one("ExecStart")).toBe(
      "/usr/bin/bgproxy gateway --config /etc/bgproxy/gateway.toml --human-logs $BGPROXY_GATEWAY_OPTS",
    );
    expect(one("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("Restart")).toBe("on-failure");
    expect(one("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
  });
});

describe(`kbgp.service, the reference product's unit name${missing("systemctl")}`, () => {
  test.skipIf(missing("systemctl") !== "")(
    "systemctl --root: `systemctl enable kbgp` enables bgproxy.service, which is aliased as kbgp",
    async () => {
      const root = makeTempDir("systemd-root");
      try {
        const units = join(root, "lib/systemd/system");
        mkdirSync(units, { recursive: true });
        mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
        // As the .deb installs them (scripts/packaging/payload.ts systemdUnits).
        for (const f of systemdUnits("/lib/systemd/system")) {
          if (f.symlink) symlinkSync(f.symlink, join(root, f.path));
          else writeFileSync(join(root, f.path), f.data);
        }
        await run(["systemctl", `--root=${root}`, "enable", "kbgp.service"]);
        const wants = join(root, "etc/systemd/system/multi-user.target.wants");
        expect(readlinkSync(join(wants, "bgproxy.service"))).toBe(
          "/lib/systemd/system/bgproxy.service",
        );
        const state = await run(
          ["systemctl", `--root=${root}`, "is-enabled", "bgproxy.service", "kbgp.service"],
          { check: false },
        );
        expect(state.stdout.split("\n").filter(Boolean)).toEqual(["enabled", "alias"]);
      } finally {
        removeTempDir(root);
      }
    },
  );
});

/** bgproxy.service's ExecStart as systemd runs it: an unquoted $BGPROXY_OPTS split on whitespace. */
function execStart(opts: string): string[] {
  const service = parseUnit(imageText("systemd/bgproxy.service")).get("Service");
  const [program, ...args] = (service?.get("ExecStart")?.at(-1) ?? "").split(" ");
  if (program !== "/usr/bin/bgproxy") throw new Error(`ExecStart runs ${program}`);
  const expanded = args.flatMap((a) => (a === "$BGPROXY_OPTS" ? opts.split(" ") : [a]));
  return [binaryPath(findTarget("linux-x64")), ...expanded];
}

/** KEY=VALUE lines of an env file; `uncomment` also takes the commented examples. */
function envLines(text: string, uncomment: boolean): [string, string][] {
  return text
    .split("\n")
    .map((l) => (uncomment ? l.replace(/^#(?=[A-Z_][A-Z0-9_]*=)/, "") : l))
    .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]);
}

describe("/etc/default/bgproxy.env.sample", () => {
  const sample = imageText("default/bgproxy.env.sample");

  test("accepts every variable of the reference product's env file", () => {
    const names = new Set(envLines(sample, true).map(([k]) => k));
    for (const v of [
      "KENTIK_API_EMAIL",
      "KENTIK_API_TOKEN",
      "KENTIK_REGION",
      "KENTIK_ENABLE_MD5",
      "KENTIK_SITE",
      "HTTP_PROXY",
      "HTTPS_PROXY",
      "BGPROXY_OPTS",
    ]) {
      expect(names.has(v)).toBe(true);
    }
    // Only the two required values are set; everything else is a commented example.
    expect(envLines(sample, false).map(([k]) => k)).toEqual([
      "KENTIK_API_EMAIL",
      "KENTIK_API_TOKEN",
    ]);
  });

  test.skipIf(process.arch !== "x64")("filled in, its variables start the real agent", async () => {
    const env: Record<string, string | undefined> = {
      HTTP_PROXY: undefined,
      http_proxy: undefined,
      https_proxy: undefined,
    };
    for (const [k, v] of envLines(sample, true)) env[k] = v;
    env.KENTIK_API_EMAIL = "ops@example.net";
    env.KENTIK_API_TOKEN = "s3cret-token";
    env.KENTIK_REGION = "fra1";
    env.KENTIK_SITE = "7";
    env.KENTIK_ENABLE_MD5 = "false";
    // Loopback only: a closed local port as the gateway, reached through a closed local proxy.
    env.HTTPS_PROXY = "http://127.0.0.1:9";
    env.BGPROXY_DISABLE_METRICS_EXPORT = "true";
    const opts =
      "--target 127.0.0.1:9 --tls-server-name gateway.example.net --listen 127.0.0.1:0 --metrics-port 0 --disable-log-export";
    const agent = spawnManaged(execStart(opts), { label: "agent-from-env-sample", env });
    try {
      // The unit's --human-logs: the reference guide's line shape.
      await agent.waitForLine(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d INF agent started .*target=127\.0\.0\.1:9/,
        20_000,
      );
      await agent.waitForLine(
        /INF status and metrics endpoint listening .*log_export=disabled metrics_export=disabled/,
        20_000,
      );
      expect(agent.output()).not.toContain("s3cret-token");
    } finally {
      await agent.stop();
    }
    // The way back to JSON lines that the sample shows: --human-logs=false in BGPROXY_OPTS.
    delete env.BGPROXY_DISABLE_METRICS_EXPORT;
    const json = spawnManaged(execStart(`${opts} --human-logs=false`), {
      label: "agent-json-logs",
      env,
    });
    try {
      const line = await json.waitForLine(/"msg":"agent started"/, 20_000);
      expect(JSON.parse(line.input ?? "{}").target).toBe("127.0.0.1:9");
      const status = await json.waitForLine(
        /"msg":"status and metrics endpoint listening"/,
        20_000,
      );
      expect(JSON.parse(status.input ?? "{}").metrics_export).toMatch(
        /127\.0\.0\.1:4318\/v1\/metrics$/,
      );
    } finally {
      await json.stop();
    }
  });
});

describe("/etc/bgproxy/gateway.toml.sample", () => {
  test.skipIf(process.arch !== "x64")("the real gateway starts with it", async () => {
    const gateway = spawnManaged(
      [
        binaryPath(findTarget("linux-x64")),
        "gateway",
        "--config",
        join(IMAGE, "etc", "gateway.toml.sample"),
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--insecure",
      ],
      { label: "gateway-from-sample" },
    );
    try {
      const line = await gateway.waitForLine(/"msg":"gateway started"/, 20_000);
      expect(JSON.parse(line.input ?? "{}").devices).toBe(2);
    } finally {
      await gateway.stop();
    }
  });
});

describe("Dockerfile", () => {
  const dockerfile = imageText("docker/Dockerfile");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    .map((l) => l.trim());

  test("FROM scratch (nothing pulled); exec-form entrypoint; agent by default", () => {
    const from = instructions.filter((l) => l.startsWith("FROM "));
    expect(from).toEqual(["FROM scratch"]);
    const entrypoint = instructions.find((l) => l.startsWith("ENTRYPOINT "));
    expect(JSON.parse(entrypoint?.slice("ENTRYPOINT ".length) ?? "")).toEqual(["/usr/bin/bgproxy"]);
    const cmd = instructions.find((l) => l.startsWith("CMD "));
    expect(JSON.parse(cmd?.slice("CMD ".length) ?? "")).toEqual(["agent"]);
    // No RUN: a build needs no container runtime and no base image.
    expect(instructions.some((l) => l.startsWith("RUN "))).toBe(false);
    // No secrets baked in: the token comes with `docker run -e`.
    expect(instructions.some((l) => /^(ENV|ARG) .*KENTIK_API_TOKEN/.test(l))).toBe(false);
    expect(dockerfile).toContain("--network host");
  });

  test("what it copies is staged by npm run package and passes its .dockerignore", () => {
    const copies = instructions.filter((l) => l.startsWith("COPY "));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile build argument
    expect(copies).toEqual(["COPY dist/image/rootfs-${TARGETARCH}/ /"]);
    const ignore = imageText("docker/Dockerfile.dockerignore")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(ignore).toEqual(["*", "!dist/image/"]);
    // One root filesystem per Docker TARGETARCH, each with the glibc build of that arch.
    for (const t of TARGETS.filter((t) => t.libc === "glibc")) {
      const root = join(ROOT, "dist", "image", `rootfs-${DEB_ARCH[t.arch]}`);
      expect(existsSync(join(root, "usr", "bin", "bgproxy"))).toBe(true);
      expect(existsSync(binaryPath(t))).toBe(true);
    }
  });

  const noHadolint = Bun.which("hadolint") === null;
  test.skipIf(noHadolint)(
    `hadolint${noHadolint ? " [skipped: hadolint is not packaged by Debian]" : ""}`,
    () => {
      const r = Bun.spawnSync(["hadolint", join(IMAGE, "docker", "Dockerfile")], {
        stdout: "pipe",
      });
      expect(r.stdout.toString()).toBe("");
      expect(r.exitCode).toBe(0);
    },
  );
});
