/**
 * FRR's bgpd as a second, independent BGP implementation for end-to-end tests: a typed config
 * rendered to bgpd.conf, bgpd run alone in the foreground inside a namespace, `vtysh` queries.
 *
 * What FRR 8.4.4 (Debian 12) needs, measured:
 * - bgpd runs without zebra (`-Z`), without kernel routes (`-n`), as root (`-S`: no switch to
 *   the frr user, the temp dir is root's), its vty socket in the temp dir (`--vty_socket`, given
 *   to vtysh too, with `-d bgpd` so vtysh does not look for the other daemons), no TCP vty
 *   (`-P 0`) and no BGP listener (`-p 0`: a router here only connects out). It logs
 *   "sendmsg_nexthop: zclient_send_message() failed" once: harmless without zebra.
 * - Without zebra bgpd has no RIB: `network` statements need `no bgp network import-check`.
 *   Since FRR 7.4 eBGP announces nothing without a policy (`bgp ebgp-requires-policy`): off.
 *   The session to a veth neighbour comes up without `disable-connected-check`.
 * - IPv6 routes over an IPv4 session: without zebra bgpd knows no interface addresses, so it
 *   announces them with next hop `::`, which a receiver (BIRD) drops; DEVELOPERS.md's "FRR
 *   without zebra rejects IPv6 routes over an IPv4 session". Setting the next hop with an
 *   outbound route-map (`set ipv6 next-hop global X`, rendered from `ipv6NextHop`) fixes it.
 * - `timers connect 1`: retry 1 s after a failed connection instead of 120 s.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";
import { makeTempDir, removeTempDir } from "./tempdir.ts";
import { WaitAborted, waitUntil } from "./wait.ts";

export const FRR_BGPD = "/usr/lib/frr/bgpd";

/** Why FRR cannot be used here ("" when it can). */
export function frrMissing(): string {
  const missing = [];
  if (!existsSync(FRR_BGPD)) missing.push(FRR_BGPD);
  if (Bun.which("vtysh") === null) missing.push("vtysh");
  return missing.length > 0 ? `${missing.join(" and ")} not installed (Debian package frr)` : "";
}

export interface FrrNeighbor {
  address: string;
  asn: number;
  /** Local address to source the session from. */
  updateSource?: string;
  /** Global IPv6 next hop for IPv6 routes (needed over an IPv4 session; see above). */
  ipv6NextHop?: string;
  /** Configured but administratively down (`neighbor X shutdown`) until `enableNeighbor`. */
  shutdown?: boolean;
}

export interface FrrConfig {
  routerId: string;
  asn: number;
  neighbors: readonly FrrNeighbor[];
  /** IPv4 prefixes announced with `network` (ipv4 unicast). */
  static4?: readonly string[];
  /** IPv6 prefixes announced with `network` (ipv6 unicast; the neighbours get that family). */
  static6?: readonly string[];
}

const routeMapName = (i: number) => `BGPX_NH6_${i}`;

/** Render bgpd.conf. */
export function renderFrrConfig(config: FrrConfig): string {
  const lines = ["frr defaults traditional", "hostname bgpx-frr", "log stdout informational", "!"];
  config.neighbors.forEach((n, i) => {
    if (n.ipv6NextHop !== undefined) {
      lines.push(
        `route-map ${routeMapName(i)} permit 10`,
        ` set ipv6 next-hop global ${n.ipv6NextHop}`,
        "exit",
        "!",
      );
    }
  });
  lines.push(
    `router bgp ${config.asn}`,
    ` bgp router-id ${config.routerId}`,
    " no bgp ebgp-requires-policy",
    " no bgp network import-check",
  );
  for (const n of config.neighbors) {
    lines.push(
      ` neighbor ${n.address} remote-as ${n.asn}`,
      ` neighbor ${n.address} timers connect 1`,
    );
    if (n.updateSource !== undefined) {
      lines.push(` neighbor ${n.address} update-source ${n.updateSource}`);
    }
    if (n.shutdown) lines.push(` neighbor ${n.address} shutdown`);
  }
  lines.push(" !", " address-family ipv4 unicast");
  for (const p of config.static4 ?? []) lines.push(`  network ${p}`);
  for (const n of config.neighbors) lines.push(`  neighbor ${n.address} activate`);
  lines.push(" exit-address-family");
  if ((config.static6 ?? []).length > 0) {
    lines.push(" !", " address-family ipv6 unicast");
    for (const p of config.static6 ?? []) lines.push(`  network ${p}`);
    config.neighbors.forEach((n, i) => {
      lines.push(`  neighbor ${n.address} activate`);
      if (n.ipv6NextHop !== undefined) {
        lines.push(`  neighbor ${n.address} route-map ${routeMapName(i)} out`);
      }
    });
    lines.push(" exit-address-family");
  }
  lines.push("exit", "!", "");
  return lines.join("\n");
}

export interface FrrStartOptions {
  netns?: Netns | string;
  label?: string;
  /** Bound on startup, default 10 s. */
  startTimeoutMs?: number;
}

/** A running FRR bgpd. */
export class Frr {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly process: ManagedProcess,
    private config: FrrConfig,
  ) {}

  static async start(config: FrrConfig, options: FrrStartOptions = {}): Promise<Frr> {
    const label = options.label ?? "frr";
    const dir = makeTempDir(label.replaceAll(/[^A-Za-z0-9_-]/g, "_"));
    const confPath = join(dir, "bgpd.conf");
    writeFileSync(confPath, renderFrrConfig(config));
    const netns = typeof options.netns === "string" ? options.netns : options.netns?.name;
    const proc = spawnManaged(
      [
        FRR_BGPD,
        "-Z",
        "-n",
        "-S",
        "-p",
        "0",
        "-P",
        "0",
        "-f",
        confPath,
        "-i",
        join(dir, "bgpd.pid"),
        "--vty_socket",
        dir,
        "--log",
        "stdout",
      ],
      { netns, label },
    );
    const frr = new Frr(label, dir, proc, config);
    try {
      await waitUntil(
        async () => {
          if (!proc.running) {
            throw new WaitAborted(`${label} exited with code ${proc.exitCode}\n${proc.tail()}`);
          }
          const r = await run(vtyshArgv(dir, ["show bgp summary json"]), {
            check: false,
            timeoutMs: 2000,
          });
          return r.code === 0 && r.stdout.includes("{");
        },
        {
          timeoutMs: options.startTimeoutMs ?? 10_000,
          what: `${label} vty socket`,
          diagnostics: () => proc.tail(),
        },
      );
    } catch (err) {
      await frr.stop();
      throw err;
    }
    return frr;
  }

  /** Run vtysh commands (one -c each, bounded 5 s); throws if vtysh fails. */
  async vtysh(...commands: string[]): Promise<string> {
    const r = await run(vtyshArgv(this.dir, commands), { timeoutMs: 5000 });
    return r.stdout;
  }

  /** The neighbour's BGP state ("Established", "Active", ...), or undefined. */
  async neighborState(address: string): Promise<string | undefined> {
    const out = JSON.parse(await this.vtysh(`show bgp neighbors ${address} json`)) as Record<
      string,
      { bgpState?: string } | undefined
    >;
    return out[address]?.bgpState;
  }

  async waitEstablished(address: string, timeoutMs: number, diagnostics?: () => string) {
    await waitUntil(async () => (await this.neighborState(address)) === "Established", {
      timeoutMs,
      what: `${this.label}: neighbor ${address} Established`,
      diagnostics: async () =>
        `${await this.vtysh(`show bgp neighbors ${address}`).catch(String)}\n${this.logTail()}\n${diagnostics?.() ?? ""}`,
    });
  }

  get currentConfig(): FrrConfig {
    return this.config;
  }

  /**
   * Change the announced prefixes at run time (`network` / `no network` through vtysh). An
   * address family must already be configured (static6 non-empty at start) to be changed.
   */
  async setStatics(static4: readonly string[], static6: readonly string[] = []): Promise<void> {
    const diff = (family: "ipv4" | "ipv6", old: readonly string[], next: readonly string[]) => {
      const removed = old.filter((p) => !next.includes(p)).map((p) => `no network ${p}`);
      const added = next.filter((p) => !old.includes(p)).map((p) => `network ${p}`);
      if (removed.length + added.length === 0) return [];
      return [`address-family ${family} unicast`, ...removed, ...added, "exit-address-family"];
    };
    await this.vtysh(
      "configure terminal",
      `router bgp ${this.config.asn}`,
      ...diff("ipv4", this.config.static4 ?? [], static4),
      ...diff("ipv6", this.config.static6 ?? [], static6),
      "end",
    );
    this.config = { ...this.config, static4: [...static4], static6: [...static6] };
  }

  /** Bring a neighbour up (`no neighbor X shutdown`), or down again with `up` false. */
  async enableNeighbor(address: string, up = true): Promise<void> {
    const line = `${up ? "no " : ""}neighbor ${address} shutdown`;
    await this.vtysh("configure terminal", `router bgp ${this.config.asn}`, line, "end");
  }

  /** Prefixes this bgpd has advertised to `address` (ipv4 and ipv6 unicast), sorted. */
  async advertised(address: string): Promise<string[]> {
    const out: string[] = [];
    for (const family of ["ipv4", "ipv6"]) {
      const text = await this.vtysh(
        `show bgp ${family} unicast neighbors ${address} advertised-routes json`,
      );
      // Not JSON ("% No such neighbor or address family") when the family is not configured.
      if (!text.trimStart().startsWith("{")) continue;
      const json = JSON.parse(text) as { advertisedRoutes?: Record<string, unknown> };
      out.push(...Object.keys(json.advertisedRoutes ?? {}));
    }
    return out.sort();
  }

  logTail(lines = 30): string {
    return this.process.tail(lines);
  }

  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 3000 });
    removeTempDir(this.dir);
  }
}

function vtyshArgv(dir: string, commands: readonly string[]): string[] {
  return ["vtysh", "--vty_socket", dir, "-d", "bgpd", ...commands.flatMap((c) => ["-c", c])];
}
