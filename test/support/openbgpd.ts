/**
 * OpenBGPD as a router for end-to-end tests: a typed config rendered to bgpd.conf, `bgpd -d`
 * run in the foreground inside a namespace, `bgpctl` used to read the neighbours and to
 * withdraw networks.
 *
 * What OpenBGPD 7.7 (Debian 12 package openbgpd, the portable release) needs, measured:
 * - Its three unprivileged processes chroot into the home of the `_openbgpd` user,
 *   /run/openbgpd, and die with "chroot: No such file or directory" if it is missing (systemd
 *   creates it as the unit's RuntimeDirectory): `start` creates it. The config is checked with
 *   `bgpd -n` first, so a syntax error fails fast with bgpd's own message.
 * - `socket "<dir>/bgpd.sock"`: the control socket in the temp dir (default
 *   /run/openbgpd/bgpd.sock.<rdomain>, shared by every namespace); bgpctl gets `-s` with it.
 *   `fib-update no`: the kernel routing table of R is left alone. There is no way to disable
 *   the BGP listener; `listen on 127.0.0.1` keeps it off the test links.
 * - `network` statements announce prefixes with no kernel route behind them; `bgpctl network
 *   delete` withdraws one of them at run time (config ones included), `network add` adds one.
 *   eBGP needs explicit filters (RFC 8212): `allow to any` announces, `deny from any` keeps the
 *   router's RIB empty.
 * - IPv6 routes over an IPv4 session: the portable bgpd finds no IPv6 address to use as its
 *   own next hop and sends `::1`. `set nexthop` only overrides that on a multihop eBGP session
 *   and only together with `nexthop no-modify` (rde_update.c: up_get_nexthop), and one `set`
 *   may not hold two nexthop actions: `ipv6NextHop` renders `multihop 2` on the neighbour and
 *   two `match to` rules. An IPv6 address only applies to IPv6 routes; IPv4 routes keep the
 *   session address.
 * - A new neighbour is dialled at once. A wrong `remote-as` makes bgpd answer the peer's OPEN
 *   with NOTIFICATION 2/2 (`bgpctl show neighbor`: "Last error sent: error in OPEN message,
 *   AS unacceptable"), then wait its idle hold
 *   time (tens of seconds) before the next try.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";
import { makeTempDir, removeTempDir } from "./tempdir.ts";
import { WaitAborted, waitUntil } from "./wait.ts";

/** bgpd's chroot directory (the `_openbgpd` user's home). */
export const OPENBGPD_CHROOT = "/run/openbgpd";

/** Why OpenBGPD cannot be used here ("" when it can). */
export function openbgpdMissing(): string {
  const missing = ["bgpd", "bgpctl"].filter((b) => Bun.which(b) === null);
  return missing.length > 0
    ? `${missing.join(" and ")} not installed (Debian package openbgpd)`
    : "";
}

export interface OpenbgpdNeighbor {
  address: string;
  asn: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Next hop for IPv6 routes on this (IPv4) session; see the file comment. */
  ipv6NextHop?: string;
}

export interface OpenbgpdConfig {
  routerId: string;
  asn: number;
  neighbors: readonly OpenbgpdNeighbor[];
  /** Prefixes announced with `network` (IPv4 and IPv6). */
  networks: readonly string[];
}

/** Render bgpd.conf; `socket` is the control socket's path. */
export function renderOpenbgpdConfig(config: OpenbgpdConfig, socket: string): string {
  if (/["\\\n]/.test(socket)) throw new Error("openbgpd: bad socket path");
  const lines = [
    `AS ${config.asn}`,
    `router-id ${config.routerId}`,
    `socket "${socket}"`,
    "fib-update no",
    "listen on 127.0.0.1",
    "",
  ];
  for (const p of config.networks) lines.push(`network ${p}`);
  for (const n of config.neighbors) {
    lines.push("", `neighbor ${n.address} {`, `\tremote-as ${n.asn}`);
    if (n.localAddress !== undefined) lines.push(`\tlocal-address ${n.localAddress}`);
    if (n.ipv6NextHop !== undefined) lines.push("\tmultihop 2");
    lines.push("\tannounce IPv4 unicast", "\tannounce IPv6 unicast", "}");
  }
  lines.push("", "allow to any", "deny from any");
  for (const n of config.neighbors) {
    if (n.ipv6NextHop === undefined) continue;
    lines.push(
      `match to ${n.address} set nexthop ${n.ipv6NextHop}`,
      `match to ${n.address} set nexthop no-modify`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The fields of `bgpctl show neighbor ADDRESS` the tests read. */
export interface OpenbgpdNeighborView {
  /** "Established", "Active", "Idle", ... */
  state?: string;
  remoteAs?: number;
  remoteRouterId?: string;
  /** e.g. "error in OPEN message, AS unacceptable"; undefined when none. */
  lastErrorSent?: string;
  lastErrorReceived?: string;
}

export function parseOpenbgpdNeighbor(output: string): OpenbgpdNeighborView {
  const field = (re: RegExp) => output.match(re)?.[1]?.trim();
  const remoteAs = field(/remote AS (\d+)/);
  return {
    state: field(/BGP state = (\w+)/),
    remoteAs: remoteAs === undefined ? undefined : Number(remoteAs),
    remoteRouterId: field(/remote router-id (\S+)/),
    lastErrorSent: field(/Last error sent: (.*)/),
    lastErrorReceived: field(/Last error received: (.*)/),
  };
}

/** Prefixes of `bgpctl show rib out neighbor X` ("A*  N 10.0.0.0/24 ..." lines), sorted. */
export function parseOpenbgpdRib(output: string): string[] {
  const out = new Set<string>();
  for (const line of output.split("\n")) {
    const m = line.match(/^\S*\s+\S\s+([0-9a-fA-F.:]+\/\d+)\s/);
    if (m?.[1]) out.add(m[1]);
  }
  return [...out].sort();
}

export interface OpenbgpdStartOptions {
  netns: Netns | string;
  label?: string;
  /** Bound on startup, default 10 s. */
  startTimeoutMs?: number;
}

/** A running bgpd (parent, session engine, RDE and RTR processes). */
export class Openbgpd {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly netns: string,
    readonly socket: string,
    readonly process: ManagedProcess,
  ) {}

  static async start(config: OpenbgpdConfig, options: OpenbgpdStartOptions): Promise<Openbgpd> {
    const label = options.label ?? "openbgpd";
    const dir = makeTempDir(label.replaceAll(/[^A-Za-z0-9_-]/g, "_"));
    const confPath = join(dir, "bgpd.conf");
    const socket = join(dir, "bgpd.sock");
    writeFileSync(confPath, renderOpenbgpdConfig(config, socket));
    mkdirSync(OPENBGPD_CHROOT, { recursive: true });
    const netns = typeof options.netns === "string" ? options.netns : options.netns.name;
    const check = await run(["bgpd", "-n", "-f", confPath], { check: false, timeoutMs: 5000 });
    if (check.code !== 0) {
      removeTempDir(dir);
      throw new Error(`${label}: bgpd -n rejects the config:\n${check.stderr}${check.stdout}`);
    }
    // -d: foreground, log to stderr; -v: log every state change.
    const proc = spawnManaged(["bgpd", "-d", "-v", "-f", confPath], { netns, label });
    const bgpd = new Openbgpd(label, dir, netns, socket, proc);
    try {
      await waitUntil(
        async () => {
          if (!proc.running) {
            throw new WaitAborted(`${label} exited with code ${proc.exitCode}\n${proc.tail()}`);
          }
          const r = await run(["bgpctl", "-s", socket, "show", "summary"], {
            netns,
            check: false,
            timeoutMs: 2000,
          });
          return r.code === 0 && r.stdout.includes("Neighbor");
        },
        {
          timeoutMs: options.startTimeoutMs ?? 10_000,
          what: `${label} control socket`,
          diagnostics: () => proc.tail(),
        },
      );
    } catch (err) {
      await bgpd.stop();
      throw err;
    }
    return bgpd;
  }

  /** Run bgpctl (bounded, 5 s) and return its output; throws if it fails. */
  async bgpctl(...args: string[]): Promise<string> {
    const r = await run(["bgpctl", "-s", this.socket, ...args], {
      netns: this.netns,
      timeoutMs: 5000,
    });
    return r.stdout;
  }

  async neighbor(address: string): Promise<OpenbgpdNeighborView> {
    return parseOpenbgpdNeighbor(await this.bgpctl("show", "neighbor", address));
  }

  async waitEstablished(address: string, timeoutMs: number, diagnostics?: () => string) {
    await waitUntil(async () => (await this.neighbor(address)).state === "Established", {
      timeoutMs,
      what: `${this.label}: neighbor ${address} Established`,
      diagnostics: async () => {
        const shown = await this.bgpctl("show", "neighbor", address).catch(String);
        return `${shown}\n${this.logTail()}\n${diagnostics?.() ?? ""}`;
      },
    });
  }

  /** Withdraw networks (`bgpctl network delete`). */
  async deleteNetworks(prefixes: readonly string[]): Promise<void> {
    for (const p of prefixes) await this.bgpctl("network", "delete", p);
  }

  /** Prefixes in the Adj-RIB-Out towards `address`, sorted. */
  async advertised(address: string): Promise<string[]> {
    return parseOpenbgpdRib(await this.bgpctl("show", "rib", "out", "neighbor", address));
  }

  logTail(lines = 30): string {
    return this.process.tail(lines);
  }

  /** Stop bgpd (SIGTERM: the parent ends its children; SIGKILL after 3 s), remove the temp dir. */
  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 3000 });
    removeTempDir(this.dir);
  }
}
