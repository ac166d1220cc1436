import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROLES } from "../../src/config/cli.ts";
import { version } from "../../src/version.ts";
import { makeTempDir, removeTempDir } from "../support/tempdir.ts";

/** Runs the real entry point in a child process with a clean environment. */
const ROOT = join(import.meta.dir, "..", "..");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

function run(args: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync({
    cmd: [BUN, "src/main.ts", ...args],
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 15_000,
  });
  return {
    code: result.exitCode,
    stdout: result.stdout.toString(),
    stderr: result.stderr.toString(),
  };
}

describe("bgproxy (the process)", () => {
  test("--version prints the version", () => {
    const r = run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`bgproxy ${version}\n`);
    expect(r.stderr).toBe("");
  });

  test("agent --version works without credentials", () => {
    const r = run(["agent", "--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`bgproxy ${version}\n`);
  });

  test("agent --help lists every flag with its env var and default", () => {
    const r = run(["agent", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ROLES.agent.flags) {
      expect(r.stdout).toContain(`--${flag.name}`);
      if (flag.env) expect(r.stdout).toContain(`$${flag.env}`);
      if (flag.defaultText) expect(r.stdout).toContain(`(default: ${flag.defaultText})`);
    }
  });

  test("gateway -h and standalone --help list their flags", () => {
    for (const role of ["gateway", "standalone"] as const) {
      const r = run([role, role === "gateway" ? "-h" : "--help"]);
      expect(r.code).toBe(0);
      for (const flag of ROLES[role].flags) expect(r.stdout).toContain(`--${flag.name}`);
    }
  });

  test("no command prints the command list and exits 2", () => {
    const r = run([]);
    expect(r.code).toBe(2);
    for (const role of ["agent", "gateway", "standalone"]) expect(r.stdout).toContain(role);
  });

  test("agent without credentials: exit 2 and one line on stderr, nothing else", () => {
    const r = run(["agent"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "bgproxy: missing Kentik API email and token: pass --email and --token, or set KENTIK_API_EMAIL and KENTIK_API_TOKEN\n",
    );
  });

  test("gateway --config /nonexistent: exit 2 with a clear message", () => {
    const r = run(["gateway", "--config", "/nonexistent"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('bgproxy: --config "/nonexistent": no such file\n');
  });

  test("a bad flag value from env names it and never shows the token", () => {
    const r = run(["agent", "--listen", "0123456789abcdef"], {
      KENTIK_API_EMAIL: "ops@example.net",
      KENTIK_API_TOKEN: "0123456789abcdef",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("bgproxy: --listen");
    expect(r.stderr).not.toContain("0123456789abcdef");
    expect(r.stderr.split("\n")).toEqual([expect.any(String), ""]);
  });

  test("an unknown command exits 2", () => {
    const r = run(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith('bgproxy: unknown command "frobnicate"');
  });
});

describe("bgproxy gateway and a signal during a long config load", () => {
  test("SIGTERM while reading 150,000 devices stops cleanly (exit 0), not exit 143", async () => {
    const dir = makeTempDir("sigterm-load");
    try {
      const devices = Array.from(
        { length: 150_000 },
        (_, i) =>
          `[[device]]\nname = "d${i}"\nid = ${i + 1}\nip = "10.${i >> 16}.${(i >> 8) & 255}.${i & 255}"\ntarget = "collector"\n`,
      );
      const file = join(dir, "gateway.toml");
      writeFileSync(
        file,
        `[[account]]\nemail = "a@b.c"\ntoken_sha256 = "${"a".repeat(64)}"\n[collector]\nasn = 64512\nrouter_id = "192.0.2.1"\n${devices.join("\n")}`,
      );
      const child = Bun.spawn({
        cmd: [
          BUN,
          "src/main.ts",
          "gateway",
          "--config",
          file,
          "--insecure",
          "--listen",
          "127.0.0.1:0",
          "--http-listen",
          "127.0.0.1:0",
        ],
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        stdout: "pipe",
        stderr: "pipe",
      });
      // Signal once the file is being parsed (RSS well above a started Bun's), so that the
      // signal lands during the load even on a busy machine, never before main.ts runs.
      const rss = () => {
        try {
          const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
          return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
        } catch {
          return 0;
        }
      };
      for (let i = 0; i < 2_000 && rss() < 120 * 2 ** 20 && child.exitCode === null; i++) {
        await Bun.sleep(5);
      }
      child.kill("SIGTERM");
      const code = await child.exited;
      const out = await new Response(child.stdout).text();
      expect(child.signalCode).toBeNull();
      expect(code).toBe(0);
      expect(out).toMatch(/stopped before starting|stopping/);
    } finally {
      removeTempDir(dir);
    }
  }, 30_000);
});
