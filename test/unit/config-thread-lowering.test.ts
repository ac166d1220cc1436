/**
 * The off switch of the background-thread lowering (src/config/thread-lowering-flag.ts):
 * `--disable-thread-lowering` or BGPROXY_DISABLE_THREAD_LOWERING, the same for agent, gateway
 * and standalone (where it covers both roles); on by default; the flag beats the variable.
 * (The gateway's flags reach its config as they are: config-gateway.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import { parseAgentConfig } from "../../src/config/agent-config.ts";
import { parseGatewayFlags } from "../../src/config/gateway-config.ts";
import type { ConfigIo } from "../../src/config/io.ts";
import { parseStandaloneConfig } from "../../src/config/standalone-config.ts";
import { ConfigError } from "../../src/core/errors.ts";

/** No file is read (standalone runs without --config); every path is readable. */
const io: ConfigIo = {
  fileProblem: () => undefined,
  readText: () => {
    throw new Error("no file is read here");
  },
  randomToken: () => "0f0e0d0c0b0a09080706050403020100",
};

type Env = Record<string, string>;

/** Each role's `lowerBackgroundThreads` for these arguments and environment. */
const ROLES: Record<string, (argv: string[], env: Env) => boolean[]> = {
  agent: (argv, env) => [
    parseAgentConfig(
      argv,
      { KENTIK_API_EMAIL: "ops@example.net", KENTIK_API_TOKEN: "t0k", ...env },
      io,
    ).lowerBackgroundThreads,
  ],
  gateway: (argv, env) => [
    parseGatewayFlags(["--config=/g.toml", "--insecure", ...argv], env, io).lowerBackgroundThreads,
  ],
  standalone: (argv, env) => {
    const c = parseStandaloneConfig(argv, env, io);
    return [c.agent.lowerBackgroundThreads, c.gateway.lowerBackgroundThreads];
  },
};

const ENV = "BGPROXY_DISABLE_THREAD_LOWERING";

const CASES: { what: string; argv: string[]; env: Env; lowered: boolean }[] = [
  { what: "by default", argv: [], env: {}, lowered: true },
  { what: "the flag", argv: ["--disable-thread-lowering"], env: {}, lowered: false },
  { what: "the variable", argv: [], env: { [ENV]: "true" }, lowered: false },
  { what: "the variable, false", argv: [], env: { [ENV]: "false" }, lowered: true },
  {
    what: "the flag beats the variable",
    argv: ["--disable-thread-lowering=false"],
    env: { [ENV]: "yes" },
    lowered: true,
  },
];

describe("--disable-thread-lowering", () => {
  for (const [role, lowered] of Object.entries(ROLES)) {
    for (const c of CASES) {
      test(`${role}: ${c.what} → lowered ${c.lowered}`, () => {
        for (const value of lowered(c.argv, c.env)) expect(value).toBe(c.lowered);
      });
    }

    test(`${role}: a bad value names the variable`, () => {
      expect(() => lowered([], { [ENV]: "sometimes" })).toThrow(ConfigError);
      expect(() => lowered([], { [ENV]: "sometimes" })).toThrow(
        `${ENV} (--disable-thread-lowering)`,
      );
    });
  }
});
