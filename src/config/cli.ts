import { ConfigError } from "../core/errors.ts";
import { version } from "../version.ts";
import { parseAgentConfig } from "./agent-config.ts";
import { AGENT_FLAGS } from "./agent-flags.ts";
import {
  type Environment,
  type FlagSpec,
  type FlagValues,
  HELP_FLAG,
  parseFlags,
  VERSION_FLAG,
} from "./flags.ts";
import { GATEWAY_FLAGS, loadGatewayConfig } from "./gateway-config.ts";
import { type ConfigIo, systemIo } from "./io.ts";
import { isKbgp, roleArguments } from "./program-name.ts";
import { quote } from "./scalars.ts";
import { parseStandaloneConfig, STANDALONE_FLAGS } from "./standalone-config.ts";
import type { AgentConfig, GatewayConfig, StandaloneConfig } from "./types.ts";

/**
 * The command line: `bgproxy <agent|gateway|standalone> [flags]`. The command comes
 * first; flags are tokenised by flags.ts (a generic parser such as mri would turn "000123"
 * into 123), and helpText lays out --help.
 */
export type RoleName = "agent" | "gateway" | "standalone";

export type Invocation =
  /** Print help (for `role`, or the command list) and exit with `exitCode`. */
  | { readonly kind: "help"; readonly role?: RoleName; readonly exitCode: 0 | 2 }
  | { readonly kind: "version" }
  | { readonly kind: "agent"; readonly config: AgentConfig }
  | { readonly kind: "gateway"; readonly config: GatewayConfig }
  | { readonly kind: "standalone"; readonly config: StandaloneConfig };

interface Role {
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  readonly notes: readonly string[];
}

const FLAG_FORMS = "Flags take --name value or --name=value (-name also works).";

export const ROLES: Readonly<Record<RoleName, Role>> = {
  agent: {
    summary: "Edge agent: routers peer with it, sessions are relayed to the gateway over gRPC",
    flags: AGENT_FLAGS,
    notes: [
      FLAG_FORMS,
      "HTTPS_PROXY / HTTP_PROXY (or lowercase): http:// proxy for the gRPC connection",
      "  (with --insecure HTTP_PROXY is preferred); NO_PROXY: hosts, .domains, IPv4 CIDRs, *.",
    ],
  },
  gateway: {
    summary: "Central gateway: authenticates agents, collects or forwards their sessions",
    flags: GATEWAY_FLAGS,
    notes: [FLAG_FORMS],
  },
  standalone: {
    summary: "Agent + gateway + collector in one process on loopback",
    flags: STANDALONE_FLAGS,
    notes: [FLAG_FORMS],
  },
};

export const ROLE_NAMES = Object.keys(ROLES) as RoleName[];

function isRole(name: string): name is RoleName {
  return ROLE_NAMES.some((r) => r === name);
}

function lastIsTrue(flags: FlagValues | undefined, name: string): boolean {
  return flags?.get(name)?.at(-1) === "true";
}

/**
 * Arguments (without the runtime and script) and environment → what to do. Pure apart
 * from `io` (config files, file checks, standalone's random token). Throws ConfigError.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Environment,
  io: ConfigIo = systemIo,
): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: "help", exitCode: 2 };
  if (!isRole(first)) {
    if (first === "-h" || first === "--help" || first === "help") {
      const role = rest[0];
      return role !== undefined && isRole(role)
        ? { kind: "help", role, exitCode: 0 }
        : { kind: "help", exitCode: 0 };
    }
    if (first === "--version" || first === "-version" || first === "version") {
      return { kind: "version" };
    }
    const what = first.startsWith("-") ? "flag" : "command";
    throw new ConfigError(
      `unknown ${what} ${quote(first)}: usage is bgproxy <${ROLE_NAMES.join("|")}> [flags] (see bgproxy --help)`,
    );
  }
  let flags: FlagValues | undefined;
  try {
    flags = parseFlags(rest, ROLES[first].flags, `bgproxy ${first}`);
  } catch {
    // The role's own parser below reports it, with secrets scrubbed.
    flags = undefined;
  }
  if (lastIsTrue(flags, "help")) return { kind: "help", role: first, exitCode: 0 };
  if (lastIsTrue(flags, "version")) return { kind: "version" };
  switch (first) {
    case "agent":
      return { kind: "agent", config: parseAgentConfig(rest, env, io) };
    case "gateway":
      return { kind: "gateway", config: loadGatewayConfig(rest, env, io) };
    case "standalone":
      return { kind: "standalone", config: parseStandaloneConfig(rest, env, io) };
  }
}

/** The process's own arguments and environment: the one place that reads them. */
export function readCommandLine(): Invocation {
  // Compiled: argv0 is the name it was called by; `bun src/main.ts`: argv[1] is the script.
  const called = [process.argv0, process.argv[1] ?? ""].find(isKbgp) ?? process.argv0;
  return parseCommandLine(roleArguments(called, process.argv.slice(2)), process.env);
}

/** The flag table for --help: name, placeholder, description, env var, default. */
export function renderFlags(flags: readonly FlagSpec[]): string {
  const left = (f: FlagSpec) =>
    `${f.short ? `-${f.short}, ` : ""}--${f.name}${f.kind === "bool" ? "" : ` <${f.valueName ?? "value"}>`}`;
  const width = Math.max(...flags.map((f) => left(f).length));
  return flags
    .map((f) => {
      const env = f.env ? ` ($${f.env})` : "";
      const dflt = f.defaultText === undefined ? "" : ` (default: ${f.defaultText})`;
      return `  ${left(f).padEnd(width)}  ${f.help}${env}${dflt}`;
    })
    .join("\n");
}

/**
 * The --help text for `role`, or the list of commands (pure). Laid out by us: cac, which
 * did it before, was only ever this layout (see DEVELOPERS.md for why it went).
 */
export function helpText(role?: RoleName): string {
  const sections = [`bgproxy ${version}`];
  if (role) {
    sections.push(`Usage:\n  $ bgproxy ${role} [flags]`);
    sections.push(`Flags:\n${renderFlags(ROLES[role].flags)}`);
    sections.push(`Notes:\n${ROLES[role].notes.map((n) => `  ${n}`).join("\n")}`);
  } else {
    const width = Math.max(...ROLE_NAMES.map((n) => n.length));
    const commands = ROLE_NAMES.map((n) => `  ${n.padEnd(width)}  ${ROLES[n].summary}`);
    const more = ROLE_NAMES.map((n) => `  $ bgproxy ${n} --help`);
    sections.push("Usage:\n  $ bgproxy <command> [flags]");
    sections.push(`Commands:\n${commands.join("\n")}`);
    sections.push(`For more info, run any command with the \`--help\` flag:\n${more.join("\n")}`);
    sections.push(`Flags:\n${renderFlags([HELP_FLAG, VERSION_FLAG])}`);
  }
  return `${sections.join("\n\n")}\n`;
}

/** Prints help for `role`, or the list of commands, on stdout. */
export function printHelp(role?: RoleName): void {
  process.stdout.write(helpText(role));
}
