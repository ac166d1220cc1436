/**
 * The container image, proven without a Docker engine: buildah (Debian) builds
 * image/docker/Dockerfile — FROM scratch plus the root filesystem `npm run package` staged,
 * so nothing is pulled — its configuration is inspected (entrypoint, command, user, ports,
 * volume), and its entrypoint runs from the exported root filesystem in a chroot with a
 * fresh /proc, as a runtime would start it: the reference manual's `docker run IMAGE
 * --email ...` form, with `-e KENTIK_ENABLE_MD5=true` under exactly Docker's default
 * capability set (no NET_ADMIN).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { rootfsDir } from "../../scripts/packaging/container-rootfs.ts";
import { findTarget } from "../../scripts/packaging/targets.ts";
import { run, spawnManaged } from "../support/process.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";
import { binaryPath, buildInfo, DIST, isRoot, missing, ROOT, sha256 } from "./support/artifacts.ts";

const SKIP =
  missing("buildah", "unshare", "setpriv") ||
  (isRoot ? "" : " [skipped: not root (buildah's vfs storage and chroot)]");
const IMAGE_NAME = "localhost/bgproxy-test:package-test";
/** Docker's default capabilities (moby's oci/caps/defaults.go): NET_RAW but no NET_ADMIN. */
const DOCKER_DEFAULT_CAPS = [
  "chown",
  "dac_override",
  "fsetid",
  "fowner",
  "mknod",
  "net_raw",
  "setgid",
  "setuid",
  "setfcap",
  "setpcap",
  "net_bind_service",
  "sys_chroot",
  "kill",
  "audit_write",
];

let work: string;
let exported: string;

function buildah(...args: string[]) {
  return run(
    [
      "buildah",
      "--storage-driver",
      "vfs",
      "--root",
      join(work, "storage"),
      "--runroot",
      join(work, "run"),
      ...args,
    ],
    { cwd: ROOT, timeoutMs: 300_000 },
  );
}

describe(`container image built by buildah from scratch${SKIP}`, () => {
  beforeAll(async () => {
    if (SKIP !== "") return;
    work = makeTempDir("image");
    await buildah(
      "bud",
      "--isolation",
      "chroot",
      "--ignorefile",
      "image/docker/Dockerfile.dockerignore",
      "-f",
      "image/docker/Dockerfile",
      "--build-arg",
      "TARGETARCH=amd64",
      "-t",
      IMAGE_NAME,
      ".",
    );
    // Export: a container's root filesystem, copied out.
    const container = (await buildah("from", IMAGE_NAME)).stdout.trim();
    const mounted = (await buildah("mount", container)).stdout.trim();
    exported = join(work, "rootfs");
    mkdirSync(exported);
    await run(["cp", "-a", `${mounted}/.`, `${exported}/`], { timeoutMs: 120_000 });
    await buildah("umount", container);
    await buildah("rm", container);
  }, 600_000);

  afterAll(async () => {
    if (SKIP !== "") return;
    await buildah("rmi", "--all", "--force").catch(() => undefined);
    removeTempDir(work);
  });

  test.skipIf(SKIP !== "")(
    "configuration: entrypoint, command, user, ports, volume; one layer",
    async () => {
      const inspect = JSON.parse((await buildah("inspect", "--type", "image", IMAGE_NAME)).stdout);
      const config = inspect.OCIv1.config;
      expect(config.Entrypoint).toEqual(["/usr/bin/bgproxy"]);
      expect(config.Cmd).toEqual(["agent"]);
      expect(config.User).toBe("0:0");
      expect(Object.keys(config.ExposedPorts).sort()).toEqual([
        "179/tcp",
        "20920/tcp",
        "20921/tcp",
        "9443/tcp",
      ]);
      expect(config.Volumes).toEqual({ "/etc/bgproxy": {} });
      expect(inspect.OCIv1.architecture).toBe("amd64");
      // FROM scratch: the staged files are the only layer.
      expect(inspect.OCIv1.rootfs.diff_ids).toHaveLength(1);
    },
  );

  test.skipIf(SKIP !== "")(
    "the exported root filesystem holds the glibc build and kbgp",
    async () => {
      const x64 = findTarget("linux-x64");
      expect(sha256(readFileSync(join(exported, "usr/bin/bgproxy")))).toBe(
        sha256(readFileSync(binaryPath(x64))),
      );
      const version = await run([
        "unshare",
        "-m",
        "sh",
        "-c",
        'mount -t proc proc "$0/proc" && exec chroot "$0" /usr/bin/kbgp --version',
        exported,
      ]);
      expect(version.stdout).toBe(`bgproxy ${buildInfo().versions.binary}\n`);
    },
  );

  test.skipIf(SKIP !== "")(
    "`docker run IMAGE --email ...` with KENTIK_ENABLE_MD5=true under Docker's default capabilities runs the agent",
    async () => {
      const inspect = JSON.parse((await buildah("inspect", "--type", "image", IMAGE_NAME)).stdout);
      const entrypoint: string[] = inspect.OCIv1.config.Entrypoint;
      // The arguments after the image replace CMD.
      const args = [
        "--email",
        "ops@example.net",
        "--target",
        "127.0.0.1:9",
        "--tls-server-name",
        "gateway.example.net",
        "--listen",
        "127.0.0.1:0",
        "--metrics-port",
        "0",
        "--disable-log-export",
      ];
      const caps = `-all,${DOCKER_DEFAULT_CAPS.map((c) => `+${c}`).join(",")}`;
      const agent = spawnManaged(
        [
          "unshare",
          "-m",
          "sh",
          "-c",
          `mount -t proc proc "$0/proc" && exec setpriv --bounding-set=${caps} chroot "$0" "$@"`,
          exported,
          ...entrypoint,
          ...args,
        ],
        {
          label: "image-agent",
          env: {
            KENTIK_API_TOKEN: "s3cret-token",
            KENTIK_ENABLE_MD5: "true",
            HTTPS_PROXY: undefined,
            HTTP_PROXY: undefined,
            https_proxy: undefined,
            http_proxy: undefined,
          },
        },
      );
      try {
        await agent.waitForLine(/"msg":"TCP-MD5 support enabled"/, 30_000);
        const started = await agent.waitForLine(/"msg":"agent started"/, 30_000);
        expect(JSON.parse(started.input ?? "{}").target).toBe("127.0.0.1:9");
        // The agent itself (unshare, sh, setpriv and chroot exec it in turn) has NET_RAW
        // and no NET_ADMIN: the capture runs on the buffer net.core.rmem_max allows.
        const status = readFileSync(`/proc/${agent.pid}/status`, "utf8");
        const effective = BigInt(`0x${status.match(/^CapEff:\s*([0-9a-f]+)/m)?.[1] ?? "0"}`);
        expect(readFileSync(`/proc/${agent.pid}/comm`, "utf8").trim()).toBe("bgproxy");
        expect((effective >> 12n) & 1n).toBe(0n); // CAP_NET_ADMIN
        expect((effective >> 13n) & 1n).toBe(1n); // CAP_NET_RAW
        expect(agent.output()).not.toContain("s3cret-token");
      } finally {
        await agent.stop();
      }
    },
    60_000,
  );

  const noQemu = missing("qemu-aarch64-static");
  test.skipIf(noQemu !== "")(
    `the arm64 root filesystem runs under qemu with its own loader and libraries${noQemu}`,
    async () => {
      const root = rootfsDir(DIST, "arm64");
      const r = await run(
        ["qemu-aarch64-static", "-L", root, join(root, "usr/bin/bgproxy"), "--version"],
        { timeoutMs: 60_000 },
      );
      expect(r.stdout).toBe(`bgproxy ${buildInfo().versions.binary}\n`);
    },
    60_000,
  );
});
