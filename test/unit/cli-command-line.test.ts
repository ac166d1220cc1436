import { describe, expect, test } from "bun:test";
import { parseCommandLine, ROLES, renderFlags } from "../../src/config/cli.ts";
import type { ConfigIo } from "../../src/config/io.ts";
import { ConfigError } from "../../src/core/errors.ts";

const io: ConfigIo = {
  fileProblem: () => undefined,
  readText: () => {
    throw new Error("no such file");
  },
  randomToken: () => "r4nd0m",
};
const CREDS = { KENTIK_API_EMAIL: "a@b.c", KENTIK_API_TOKEN: "t0k3n" };

describe("parseCommandLine", () => {
  test("no arguments: the command list, as a usage error", () => {
    expect(parseCommandLine([], {}, io)).toEqual({ kind: "help", exitCode: 2 });
  });

  test("help and version, at the top and per command, before any validation", () => {
    expect(parseCommandLine(["--help"], {}, io)).toEqual({ kind: "help", exitCode: 0 });
    expect(parseCommandLine(["-h"], {}, io)).toEqual({ kind: "help", exitCode: 0 });
    expect(parseCommandLine(["help", "gateway"], {}, io)).toEqual({
      kind: "help",
      role: "gateway",
      exitCode: 0,
    });
    expect(parseCommandLine(["agent", "-h"], {}, io)).toEqual({
      kind: "help",
      role: "agent",
      exitCode: 0,
    });
    expect(parseCommandLine(["--version"], {}, io)).toEqual({ kind: "version" });
    expect(parseCommandLine(["agent", "--version"], {}, io)).toEqual({ kind: "version" });
    expect(parseCommandLine(["gateway", "--version"], {}, io)).toEqual({ kind: "version" });
  });

  test("each command gives its config", () => {
    const agent = parseCommandLine(["agent", "--multi", "4"], CREDS, io);
    expect(agent.kind === "agent" && agent.config.multi).toBe(4);
    const standalone = parseCommandLine(["standalone"], {}, io);
    expect(standalone.kind === "standalone" && standalone.config.agent.token).toBe("r4nd0m");
  });

  test("unknown commands and flags before the command are refused", () => {
    expect(() => parseCommandLine(["frobnicate"], {}, io)).toThrow(
      'unknown command "frobnicate": usage is bgproxy <agent|gateway|standalone> [flags]',
    );
    expect(() => parseCommandLine(["--insecure", "agent"], CREDS, io)).toThrow(ConfigError);
  });

  test("a tokenising error still hides the token", () => {
    let message = "";
    try {
      parseCommandLine(["agent", "--token", "s3cr3t-value", "--insecure=s3cr3t-value"], {}, io);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toStartWith("--insecure must be true or false");
    expect(message).not.toContain("s3cr3t-value");
  });
});

describe("renderFlags", () => {
  test("shows each flag with its placeholder, env var and default", () => {
    const text = renderFlags(ROLES.agent.flags);
    expect(text).toContain("--email <string>");
    expect(text).toContain("($KENTIK_API_EMAIL)");
    expect(text).toContain("(default: 0.0.0.0:179,[::]:179)");
    expect(text).toContain("-h, --help");
    expect(text.split("\n")).toHaveLength(ROLES.agent.flags.length);
  });
});
