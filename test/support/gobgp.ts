/**
 * GoBGP as a router for end-to-end tests: a typed config rendered to gobgpd's TOML, gobgpd run
 * in the foreground inside a namespace, its `gobgp` CLI (gRPC) used to add and withdraw routes
 * and to read the neighbours' state.
 *
 * What GoBGP 3.10 (Debian 12 package gobgpd) needs, measured:
 * - `port = -1` in [global.config]: gobgpd binds no BGP listener (only connects out). Its gRPC
 *   API listens where `--api-hosts` says; each namespace has its own 127.0.0.1, so the default
 *   port is free, but we pass it explicitly and hand the same one to every CLI call.
 *   `--pprof-disable` keeps it off localhost:6060; `-p` gives plain-text logs.
 * - The first connection attempt comes 5-10 s after start (measured), whatever `connect-retry`
 *   says: the connect loop waits a randomised multiple of its 5 s minimum retry interval
 *   before the first dial.
 *   Tests must allow for it (one gobgpd with several neighbours pays it once, in parallel).
 * - The config file cannot hold routes: they are added with `gobgp global rib add` once the
 *   daemon runs, and withdrawn with `gobgp global rib del`. Routes added before a session is
 *   Established are sent when it comes up.
 * - IPv6 routes over an IPv4 session: GoBGP sends its IPv4 session address as an IPv4-mapped
 *   IPv6 next hop (`::ffff:10.255.n.1`, 16 bytes), which BIRD 2.0.12 rejects ("Invalid
 *   route ... withdrawn"). `ipv6NextHop` renders a global export policy that sets a real one
 *   (`set-next-hop`) on every IPv6 prefix (a prefix-set ::/0 with masklength-range 0..128:
 *   GoBGP 3.10 has no address-family condition); `removeIpv6NextHop` drops it at run time.
 * - A wrong `peer-as` makes GoBGP answer the peer's OPEN with NOTIFICATION 2/2 (Bad Peer AS);
 *   it logs `sent notification` with `Data="as number mismatch expected X, received Y"` and
 *   retries on its connect loop.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";
import { makeTempDir, removeTempDir } from "./tempdir.ts";
import { WaitAborted, waitUntil } from "./wait.ts";

/** Why GoBGP cannot be used here ("" when it can). */
export function gobgpMissing(): string {
  const missing = ["gobgpd", "gobgp"].filter((b) => Bun.which(b) === null);
  return missing.length > 0 ? `${missing.join(" and ")} not installed (Debian package gobgpd)` : "";
}

export interface GobgpNeighbor {
  address: string;
  asn: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Address families, default both. */
  families?: readonly ("ipv4" | "ipv6")[];
  /** Configured but administratively down (`admin-down`) until `enableNeighbor`. */
  adminDown?: boolean;
}

export interface GobgpConfig {
  routerId: string;
  asn: number;
  neighbors: readonly GobgpNeighbor[];
  /** Next hop for IPv6 routes (export policy); default: GoBGP's own (IPv4-mapped, see above). */
  ipv6NextHop?: string;
}

const FAMILY = { ipv4: "ipv4-unicast", ipv6: "ipv6-unicast" } as const;
const str = (s: string) => JSON.stringify(s);

/** Render gobgpd.toml. */
export function renderGobgpConfig(config: GobgpConfig): string {
  const lines = [
    "[global.config]",
    `  as = ${config.asn}`,
    `  router-id = ${str(config.routerId)}`,
    "  port = -1",
  ];
  if (config.ipv6NextHop !== undefined) {
    lines.push(
      "[global.apply-policy.config]",
      `  export-policy-list = ["ipv6-next-hop"]`,
      `  default-export-policy = "accept-route"`,
      "",
      "[[defined-sets.prefix-sets]]",
      `  prefix-set-name = "ipv6-any"`,
      "  [[defined-sets.prefix-sets.prefix-list]]",
      `    ip-prefix = "::/0"`,
      `    masklength-range = "0..128"`,
      "",
      "[[policy-definitions]]",
      `  name = "ipv6-next-hop"`,
      "  [[policy-definitions.statements]]",
      `    name = "ipv6-unicast"`,
      "    [policy-definitions.statements.conditions.match-prefix-set]",
      `      prefix-set = "ipv6-any"`,
      `      match-set-options = "any"`,
      "    [policy-definitions.statements.actions]",
      `      route-disposition = "accept-route"`,
      "    [policy-definitions.statements.actions.bgp-actions]",
      `      set-next-hop = ${str(config.ipv6NextHop)}`,
    );
  }
  for (const n of config.neighbors) {
    lines.push(
      "",
      "[[neighbors]]",
      "  [neighbors.config]",
      `    neighbor-address = ${str(n.address)}`,
      `    peer-as = ${n.asn}`,
      ...(n.adminDown ? ["    admin-down = true"] : []),
      "  [neighbors.timers.config]",
      "    connect-retry = 1",
    );
    if (n.localAddress !== undefined) {
      lines.push("  [neighbors.transport.config]", `    local-address = ${str(n.localAddress)}`);
    }
    for (const family of n.families ?? ["ipv4", "ipv6"]) {
      lines.push(
        "  [[neighbors.afi-safis]]",
        "    [neighbors.afi-safis.config]",
        `      afi-safi-name = ${str(FAMILY[family])}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export interface GobgpStartOptions {
  netns: Netns | string;
  label?: string;
  /** gRPC API port inside the namespace, default 50051. */
  apiPort?: number;
  /** Bound on startup, default 10 s. */
  startTimeoutMs?: number;
}

/** `BGP state = ESTABLISHED, up for ...` in `gobgp neighbor ADDRESS`. */
export function parseGobgpNeighborState(output: string): string | undefined {
  return output.match(/BGP state = (\w+)/)?.[1];
}

const PREFIX_LINE = /^\*?>?\s*([0-9a-fA-F.:]+\/\d+)\s/;

/** Prefixes of a `gobgp global rib` / `gobgp neighbor X adj-out` table, sorted. */
export function parseGobgpPrefixes(output: string): string[] {
  const out = new Set<string>();
  for (const line of output.split("\n")) {
    const m = line.trim().match(PREFIX_LINE) ?? line.trim().match(/^\d+\s+([0-9a-fA-F.:]+\/\d+)/);
    if (m?.[1]) out.add(m[1]);
  }
  return [...out].sort();
}

/** A running gobgpd. */
export class Gobgp {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly netns: string,
    readonly apiPort: number,
    readonly process: ManagedProcess,
  ) {}

  static async start(config: GobgpConfig, options: GobgpStartOptions): Promise<Gobgp> {
    const label = options.label ?? "gobgp";
    const dir = makeTempDir(label.replaceAll(/[^A-Za-z0-9_-]/g, "_"));
    const confPath = join(dir, "gobgpd.toml");
    writeFileSync(confPath, renderGobgpConfig(config));
    const netns = typeof options.netns === "string" ? options.netns : options.netns.name;
    const apiPort = options.apiPort ?? 50051;
    const proc = spawnManaged(
      [
        "gobgpd",
        "-f",
        confPath,
        "-p",
        "-l",
        "debug",
        "--api-hosts",
        `127.0.0.1:${apiPort}`,
        "--pprof-disable",
      ],
      { netns, label },
    );
    const gobgp = new Gobgp(label, dir, netns, apiPort, proc);
    try {
      await waitUntil(
        async () => {
          if (!proc.running) {
            throw new WaitAborted(`${label} exited with code ${proc.exitCode}\n${proc.tail()}`);
          }
          const r = await run(gobgp.cliArgv(["global"]), {
            netns,
            check: false,
            timeoutMs: 2000,
          });
          return r.code === 0 && /AS:\s+\d+/.test(r.stdout);
        },
        {
          timeoutMs: options.startTimeoutMs ?? 10_000,
          what: `${label} gRPC API on 127.0.0.1:${apiPort}`,
          diagnostics: () => proc.tail(),
        },
      );
    } catch (err) {
      await gobgp.stop();
      throw err;
    }
    return gobgp;
  }

  private cliArgv(args: readonly string[]): string[] {
    return ["gobgp", "-u", "127.0.0.1", "-p", String(this.apiPort), ...args];
  }

  /** Run a `gobgp` CLI command inside the namespace (bounded, 5 s); throws if it fails. */
  async cli(...args: string[]): Promise<string> {
    const r = await run(this.cliArgv(args), { netns: this.netns, timeoutMs: 5000 });
    return r.stdout;
  }

  /** The neighbour's FSM state as `gobgp neighbor ADDRESS` prints it ("ESTABLISHED", ...). */
  async neighborState(address: string): Promise<string | undefined> {
    return parseGobgpNeighborState(await this.cli("neighbor", address));
  }

  async waitEstablished(address: string, timeoutMs: number, diagnostics?: () => string) {
    await waitUntil(async () => (await this.neighborState(address)) === "ESTABLISHED", {
      timeoutMs,
      what: `${this.label}: neighbor ${address} ESTABLISHED`,
      diagnostics: async () => {
        const shown = await this.cli("neighbor", address).catch(String);
        return `${shown}\n${this.logTail()}\n${diagnostics?.() ?? ""}`;
      },
    });
  }

  /** Bring a neighbour up (`gobgp neighbor X enable`), or down again with `up` false. */
  async enableNeighbor(address: string, up = true): Promise<void> {
    await this.cli("neighbor", address, up ? "enable" : "disable");
  }

  /** Announce prefixes (origin: the global RIB; GoBGP sets the next hop per neighbour). */
  async addRoutes(prefixes: readonly string[]): Promise<void> {
    for (const p of prefixes) await this.cli("global", "rib", "add", "-a", familyOf(p), p);
  }

  /** Withdraw prefixes announced with `addRoutes`. */
  async deleteRoutes(prefixes: readonly string[]): Promise<void> {
    for (const p of prefixes) await this.cli("global", "rib", "del", "-a", familyOf(p), p);
  }

  /**
   * Drop the `ipv6NextHop` export policy at run time and re-send every route to `neighbors`
   * (`softresetout`): IPv6 routes then carry GoBGP's default IPv4-mapped next hop.
   */
  async removeIpv6NextHop(neighbors: readonly string[]): Promise<void> {
    await this.cli("global", "policy", "export", "del", "ipv6-next-hop");
    for (const n of neighbors) await this.cli("neighbor", n, "softresetout", "-a", "ipv6");
  }

  /** Prefixes GoBGP has sent to `address` (both families), sorted. */
  async advertised(address: string): Promise<string[]> {
    const out: string[] = [];
    for (const family of ["ipv4", "ipv6"]) {
      const text = await this.cli("neighbor", address, "adj-out", "-a", family).catch(() => "");
      out.push(...parseGobgpPrefixes(text));
    }
    return out.sort();
  }

  logTail(lines = 30): string {
    return this.process.tail(lines);
  }

  /** Stop gobgpd (SIGTERM, SIGKILL after 3 s) and remove its temp dir. */
  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 3000 });
    removeTempDir(this.dir);
  }
}

function familyOf(prefix: string): "ipv4" | "ipv6" {
  return prefix.includes(":") ? "ipv6" : "ipv4";
}
