import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { isKbgp, roleArguments } from "../../src/config/program-name.ts";

describe("roleArguments (kbgp command and leading-flag form)", () => {
  test("called as kbgp: the agent with the manual's flags, no role word", () => {
    expect(roleArguments("/usr/bin/kbgp", ["--email", "a@b", "--token=t"])).toEqual([
      "agent",
      "--email",
      "a@b",
      "--token=t",
    ]);
    expect(roleArguments("kbgp", [])).toEqual(["agent"]);
    expect(roleArguments("kbgp", ["--help"])).toEqual(["agent", "--help"]);
    expect(roleArguments("kbgp", ["--version"])).toEqual(["agent", "--version"]);
    // An explicit role word is not doubled.
    expect(roleArguments("kbgp", ["agent", "--email", "x"])).toEqual(["agent", "--email", "x"]);
  });

  test("called as bgproxy: a leading flag means the agent; roles, help and version unchanged", () => {
    expect(roleArguments("/usr/bin/bgproxy", ["--email", "a@b"])).toEqual([
      "agent",
      "--email",
      "a@b",
    ]);
    expect(roleArguments("bgproxy", ["-email=a@b"])).toEqual(["agent", "-email=a@b"]);
    for (const top of ["--help", "-h", "-help", "--version", "-version"]) {
      expect(roleArguments("bgproxy", [top])).toEqual([top]);
    }
    expect(roleArguments("bgproxy", ["gateway", "--config", "x"])).toEqual([
      "gateway",
      "--config",
      "x",
    ]);
    expect(roleArguments("bgproxy", [])).toEqual([]);
    expect(roleArguments("bgproxy", ["frobnicate"])).toEqual(["frobnicate"]);
  });

  test("isKbgp: by basename, with or without a script extension", () => {
    expect(isKbgp("/usr/bin/kbgp")).toBe(true);
    expect(isKbgp("./kbgp.ts")).toBe(true);
    expect(isKbgp("/usr/bin/bgproxy")).toBe(false);
    expect(isKbgp("/usr/bin/kbgpd")).toBe(false);
  });
});

describe("the process called as kbgp (argv[0])", () => {
  const ROOT = join(import.meta.dir, "..", "..");
  const BUN = join(ROOT, "node_modules", ".bin", "bun");
  const run = (argv0: string, args: string[]) => {
    const r = Bun.spawnSync({
      cmd: [BUN, "src/main.ts", ...args],
      argv0,
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 15_000,
    });
    return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };

  test("kbgp --help is the agent's help; bgproxy --email without a token is the agent's error", () => {
    {
      const kbgp = "/usr/bin/kbgp";
      const help = run(kbgp, ["--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("--enable-md5-support");
      // No token anywhere: the agent's own configuration error, exit 2.
      const agent = run(kbgp, ["--email", "ops@example.net"]);
      expect(agent.code).toBe(2);
      expect(agent.stderr).toMatch(/token/i);
      const leading = run(BUN, ["--email", "ops@example.net"]);
      expect(leading.code).toBe(2);
      expect(leading.stderr).toBe(agent.stderr);
    }
  });
});
