/**
 * BIRD 2 as a real, independent BGP peer for end-to-end tests: a typed config rendered to
 * bird.conf, the daemon run in the foreground inside a namespace, and `birdc` queries parsed.
 *
 * What BIRD 2.0.12 (Debian 12) needs, measured:
 * - Timers: BIRD waits `connect delay time` (default 5 s) after start before its first
 *   outgoing connection; we render `connect delay time 1`. After a session error it waits
 *   `error wait time` (default 60..300 s) before retrying; we render `error wait time 1, 5`.
 *   (`start delay time` is the deprecated name of `connect delay time`.) Routes reach the peer
 *   about 2-3 s after Established, so tests poll the routes, they don't read them once.
 * - A collector behind a relay needs `multihop`: the routes' BGP next hop (the router) is not
 *   on its connected network and, on a direct session, BIRD silently drops them all. With
 *   `multihop` the routes are kept (shown as `unreachable`: the recursive next hop does not
 *   resolve, they still count in `show route`).
 * - IPv6 routes over an IPv4 session (MP-BGP, RFC 4760) need an IPv6 next hop. BIRD takes the
 *   first global IPv6 address of the interface towards the neighbour (so a veth with an
 *   fd00:255:n::/64 address just works, even with `multihop`). Where that interface has no
 *   global IPv6 address (e.g. a session over loopback), BIRD logs "Missing next hop address"
 *   and withdraws every IPv6 route: set `ipv6NextHop` (rendered `next hop address X` on the
 *   ipv6 channel). Any IPv6 address works; the receiving side need not reach it.
 * - Passwords (TCP-MD5) cannot contain `"` or `\` (BIRD's string syntax).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";
import { makeTempDir, removeTempDir } from "./tempdir.ts";
import { WaitAborted, waitUntil } from "./wait.ts";

export interface BirdNeighbor {
  /** BGP protocol name, a BIRD symbol ([A-Za-z_][A-Za-z0-9_]*) that is not a keyword ("router"!). */
  name: string;
  /** The neighbour's address (IPv4 or IPv6: the session's transport). */
  address: string;
  asn: number;
  /** Neighbour's TCP port (default 179). */
  port?: number;
  /** Local address to bind/source from. */
  localAddress?: string;
  /** Local port to listen on for this session (default 179). */
  localPort?: number;
  /** Local AS for this session (default: the router's `asn`). */
  localAsn?: number;
  /** Only accept connections, never connect out. */
  passive?: boolean;
  /** `true` renders `multihop;`, a number `multihop N;`. */
  multihop?: boolean | number;
  /** TCP-MD5 (RFC 2385) key. */
  password?: string;
  /** Enable the ipv4 channel (default true). */
  ipv4?: boolean;
  /** Enable the ipv6 channel (default true). */
  ipv6?: boolean;
  /** `next hop address` on the ipv6 channel; see the file comment. */
  ipv6NextHop?: string;
  /** `next hop address` on the ipv4 channel (e.g. for IPv4 routes over an IPv6 session). */
  ipv4NextHop?: string;
  /** Import filter, default "all". */
  import?: "all" | "none";
  /** Export filter, default "all". */
  export?: "all" | "none";
  /** Hold time in seconds (keepalive is a third of it). */
  holdTime?: number;
  /** Configured but `disabled` (started later with `enable`). */
  disabled?: boolean;
  /** false: `enable route refresh off` (the route refresh capability not advertised). */
  routeRefresh?: boolean;
}

export interface BirdConfig {
  routerId: string;
  asn: number;
  neighbors: readonly BirdNeighbor[];
  /** IPv4 prefixes to announce (static, unreachable), e.g. "10.255.100.0/24". */
  static4?: readonly string[];
  /** IPv6 prefixes to announce (static, unreachable), e.g. "fd00:255:100::/48". */
  static6?: readonly string[];
  /** BIRD statements run for every static route, e.g. "bgp_community.add((65001,100));". */
  staticAttributes?: string;
  /** Seconds before the first outgoing connection (BIRD's default is 5); default 1. */
  connectDelay?: number;
  /** Seconds before reconnecting after an error, as [min, max] (BIRD: 60, 300); default [1, 5]. */
  errorWait?: readonly [number, number];
  /** A config file to include before the BGP protocols (e.g. a generated table of statics). */
  include?: string;
  /**
   * `scan time` of the device protocol in seconds; default 10. Measured (BIRD 2.0.12): its main
   * loop sleeps in poll() up to 3 s when it thinks no work is pending, and an export of a
   * big table sometimes stalled exactly that long; a 1 s scan bounds the sleep.
   */
  deviceScanTime?: number;
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** BIRD keywords that are tempting protocol names (BIRD rejects them), and our own names. */
const RESERVED = new Set(
  (
    "as bgp device direct export filter function import interface ipv4 ipv6 kernel local " +
    "neighbor passive password protocol route router static table template static4 static6"
  ).split(" "),
);

function quote(s: string, what: string): string {
  if (/["\\\n]/.test(s)) {
    throw new Error(`bird: ${what} must not contain quotes, backslashes or newlines`);
  }
  return `"${s}"`;
}

function channel(
  family: "ipv4" | "ipv6",
  n: BirdNeighbor,
  nextHop: string | undefined,
): string | undefined {
  if (n[family] === false) return undefined;
  const parts = [`import ${n.import ?? "all"};`, `export ${n.export ?? "all"};`];
  if (nextHop !== undefined) parts.push(`next hop address ${nextHop};`);
  return `  ${family} { ${parts.join(" ")} };`;
}

/** Render a complete bird.conf. `logFile` receives BIRD's log (all classes). */
export function renderBirdConfig(config: BirdConfig, logFile: string): string {
  const connectDelay = config.connectDelay ?? 1;
  const [errMin, errMax] = config.errorWait ?? [1, 5];
  const lines = [
    `log ${quote(logFile, "log path")} all;`,
    "log stderr all;",
    // Protocol times with milliseconds even on other days (sinceMs, parseChannelRoutes).
    'timeformat protocol "%T.%3f";',
    `router id ${config.routerId};`,
    "",
    `protocol device { scan time ${config.deviceScanTime ?? 10}; }`,
  ];
  if (config.include !== undefined) lines.push(`include ${quote(config.include, "include")};`);
  const attrs = config.staticAttributes ? ` { ${config.staticAttributes} }` : "";
  if (config.static4 && config.static4.length > 0) {
    lines.push("protocol static static4 {", "  ipv4;");
    for (const p of config.static4) lines.push(`  route ${p} unreachable${attrs};`);
    lines.push("}");
  }
  if (config.static6 && config.static6.length > 0) {
    lines.push("protocol static static6 {", "  ipv6;");
    for (const p of config.static6) lines.push(`  route ${p} unreachable${attrs};`);
    lines.push("}");
  }
  for (const n of config.neighbors) {
    if (!SYMBOL.test(n.name) || RESERVED.has(n.name.toLowerCase())) {
      throw new Error(`bird: ${JSON.stringify(n.name)} is not usable as a protocol name`);
    }
    const local = ["local"];
    if (n.localAddress !== undefined) local.push(n.localAddress);
    if (n.localPort !== undefined) local.push("port", String(n.localPort));
    local.push("as", String(n.localAsn ?? config.asn));
    const neighbor = ["neighbor", n.address];
    if (n.port !== undefined) neighbor.push("port", String(n.port));
    neighbor.push("as", String(n.asn));
    lines.push("", `protocol bgp ${n.name} {`, `  ${local.join(" ")};`, `  ${neighbor.join(" ")};`);
    if (n.disabled) lines.push("  disabled;");
    if (n.passive) lines.push("  passive;");
    if (n.routeRefresh === false) lines.push("  enable route refresh off;");
    if (n.multihop === true) lines.push("  multihop;");
    else if (typeof n.multihop === "number") lines.push(`  multihop ${n.multihop};`);
    if (n.password !== undefined) lines.push(`  password ${quote(n.password, "password")};`);
    if (n.holdTime !== undefined) {
      lines.push(
        `  hold time ${n.holdTime};`,
        `  keepalive time ${Math.max(1, Math.floor(n.holdTime / 3))};`,
      );
    }
    lines.push(`  connect delay time ${connectDelay};`, `  error wait time ${errMin}, ${errMax};`);
    for (const ch of [channel("ipv4", n, n.ipv4NextHop), channel("ipv6", n, n.ipv6NextHop)]) {
      if (ch !== undefined) lines.push(ch);
    }
    lines.push("}");
  }
  return `${lines.join("\n")}\n`;
}

export interface ProtocolStatus {
  name: string;
  /** "BGP", "Static", "Device", ... */
  proto: string;
  table: string;
  /** "up", "down", "start", "stop", "flush" */
  state: string;
  since: string;
  /** For BGP: "Established", "Active", "Connect", "Idle", ... possibly followed by an error. */
  info: string;
}

/** Parse `birdc show protocols` (the "Name Proto Table State Since Info" table). */
export function parseProtocols(output: string): ProtocolStatus[] {
  const result: ProtocolStatus[] = [];
  for (const line of output.split("\n")) {
    // Since is one token in BIRD's default time format (a time today, a date before).
    const m = line.match(/^(\S+)\s+(\S+)\s+(\S+)\s+(up|down|start|stop|flush)\s+(\S+)\s*(.*)$/);
    if (!m || m[1] === "Name") continue;
    const [, name = "", proto = "", table = "", state = "", since = "", rest = ""] = m;
    const info = rest.trim();
    result.push({ name, proto, table, state, since, info });
  }
  return result;
}

/**
 * Milliseconds since midnight of a `Since` value in BIRD's default "today" format
 * (HH:MM:SS.mmm); NaN for any other format. BIRD stores monotonic times and converts them to
 * wall-clock time on each `show protocols`, so the same state change can read 1 ms apart in
 * two calls: compare with a tolerance, never as strings.
 */
export function sinceMs(since: string): number {
  const m = since.match(/^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/);
  if (!m) return Number.NaN;
  const [, h, min, s, ms = "0"] = m;
  return ((Number(h) * 60 + Number(min)) * 60 + Number(s)) * 1000 + Number(ms.padEnd(3, "0"));
}

/**
 * How far apart two prints of one BIRD "since" may be: BIRD keeps a state change's time on its
 * monotonic clock and converts it to wall-clock time at each print, so the same value reads
 * 1 ms apart now and then (09:26:38.281, then .280); a new session takes seconds.
 */
export const SINCE_JITTER_MS = 50;
const DAY_MS = 86_400_000;

/** Milliseconds between two `Since` values, across midnight too. */
export function sinceApartMs(a: string, b: string): number {
  const apart = Math.abs(sinceMs(a) - sinceMs(b)) % DAY_MS;
  return Math.min(apart, DAY_MS - apart);
}

export interface ChannelRoutes {
  /** BGP state from the Info column, e.g. "Established", "Active". */
  info: string;
  /** Milliseconds since local midnight of the last state change (BIRD's Since column). */
  sinceMs: number;
  /** Routes imported per channel. */
  ipv4: number;
  ipv6: number;
}

/**
 * `birdc show protocols all NAME` → state and routes imported per channel. Costs BIRD next to
 * nothing even with a million routes (unlike `show route count`, which walks the table).
 */
export function parseChannelRoutes(output: string, name: string): ChannelRoutes | undefined {
  const status = parseProtocols(output).find((p) => p.name === name);
  if (!status) return undefined;
  const counts: ChannelRoutes = {
    info: status.info,
    sinceMs: sinceMs(status.since),
    ipv4: 0,
    ipv6: 0,
  };
  let channel: "ipv4" | "ipv6" | undefined;
  for (const line of output.split("\n")) {
    const c = line.match(/^\s+Channel (ipv4|ipv6)/);
    if (c) channel = c[1] as "ipv4" | "ipv6";
    const r = line.match(/^\s+Routes:\s+(\d+) imported/);
    if (r && channel) counts[channel] = Number(r[1]);
  }
  return counts;
}

/** Local time of day in ms of an epoch time, comparable with `sinceMs`. */
export function msOfDay(epochMs: number): number {
  const d = new Date(epochMs);
  return ((d.getHours() * 60 + d.getMinutes()) * 60 + d.getSeconds()) * 1000 + d.getMilliseconds();
}

/** Parse `birdc show route count`: "X of Y routes for Z networks in table T" lines. */
export function parseRouteCount(output: string): { routes: number; networks: number } {
  let routes = 0;
  let networks = 0;
  for (const line of output.split("\n")) {
    const m = line.match(/^(\d+) of \d+ routes for (\d+) networks in table \S+/);
    if (m) {
      routes += Number(m[1]);
      networks += Number(m[2]);
    }
  }
  return { routes, networks };
}

/** Parse `birdc show route`: the prefixes, sorted and unique ("Table x:" headers skipped). */
export function parseRoutePrefixes(output: string): string[] {
  const prefixes = new Set<string>();
  for (const line of output.split("\n")) {
    const m = line.match(/^([0-9a-fA-F.:]+\/\d+)\s/);
    if (m?.[1]) prefixes.add(m[1]);
  }
  return [...prefixes].sort();
}

export interface BirdStartOptions {
  /** Namespace to run in (default: the current one). */
  netns?: Netns | string;
  /** Name used in messages and the temp dir, default "bird". */
  label?: string;
  /** Bound on startup, default 10 s. */
  startTimeoutMs?: number;
  /** Bound on each birdc command, default 5 s (`show route count` walks big tables slowly). */
  commandTimeoutMs?: number;
}

/** A running BIRD daemon. */
export class Bird {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly confPath: string,
    readonly socketPath: string,
    readonly logPath: string,
    readonly process: ManagedProcess,
    private config: BirdConfig,
    private readonly commandTimeoutMs: number,
  ) {}

  get pid(): number {
    return this.process.pid;
  }

  /** Write the config, start `bird -f` and wait until `birdc show status` answers. */
  static async start(config: BirdConfig, options: BirdStartOptions = {}): Promise<Bird> {
    const label = options.label ?? "bird";
    const dir = makeTempDir(label.replaceAll(/[^A-Za-z0-9_-]/g, "_"));
    const confPath = join(dir, "bird.conf");
    const socketPath = join(dir, "bird.ctl");
    const logPath = join(dir, "bird.log");
    writeFileSync(confPath, renderBirdConfig(config, logPath));
    const netns = typeof options.netns === "string" ? options.netns : options.netns?.name;
    // -f: foreground; -P: pid file kept out of /run; output (log stderr) is captured.
    const proc = spawnManaged(
      ["bird", "-f", "-c", confPath, "-s", socketPath, "-P", join(dir, "bird.pid")],
      { netns, label },
    );
    const commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    const bird = new Bird(
      label,
      dir,
      confPath,
      socketPath,
      logPath,
      proc,
      config,
      commandTimeoutMs,
    );
    try {
      await waitUntil(
        async () => {
          if (!proc.running) {
            throw new WaitAborted(`${label} exited with code ${proc.exitCode}\n${proc.tail()}`);
          }
          const r = await run(["birdc", "-s", socketPath, "show", "status"], {
            check: false,
            timeoutMs: 2000,
          });
          return r.code === 0 && /Daemon is up and running/.test(r.stdout);
        },
        {
          timeoutMs: options.startTimeoutMs ?? 10_000,
          what: `${label} control socket`,
          diagnostics: () => proc.tail(),
        },
      );
    } catch (err) {
      await bird.stop();
      throw err;
    }
    return bird;
  }

  /** Run a birdc command (bounded, `commandTimeoutMs`) and return its output. Throws if birdc fails. */
  async birdc(...args: string[]): Promise<string> {
    const r = await run(["birdc", "-s", this.socketPath, ...args], {
      timeoutMs: this.commandTimeoutMs,
    });
    return r.stdout;
  }

  /** State and routes imported per channel of protocol `name` (see parseChannelRoutes). */
  async channelRoutes(name: string): Promise<ChannelRoutes | undefined> {
    return parseChannelRoutes(await this.birdc("show", "protocols", "all", name), name);
  }

  async protocols(): Promise<ProtocolStatus[]> {
    return parseProtocols(await this.birdc("show", "protocols"));
  }

  /** State of one protocol, or undefined if BIRD has no such protocol. */
  async protocolState(name: string): Promise<ProtocolStatus | undefined> {
    return (await this.protocols()).find((p) => p.name === name);
  }

  /** Wait until BGP protocol `name` is Established. */
  async waitEstablished(name: string, timeoutMs: number): Promise<void> {
    await waitUntil(async () => (await this.protocolState(name))?.info.startsWith("Established"), {
      timeoutMs,
      what: `${this.label}: ${name} Established`,
      diagnostics: async () =>
        `${await this.birdc("show", "protocols", "all", name).catch(String)}\n${this.process.tail()}`,
    });
  }

  /** Number of routes (all tables, or `table` e.g. "master4"). */
  async routeCount(table?: string): Promise<number> {
    const args = ["show", "route", "count", ...(table ? ["table", table] : [])];
    return parseRouteCount(await this.birdc(...args)).routes;
  }

  /** Sorted prefixes in all tables (or in `table`). */
  async routes(table?: string): Promise<string[]> {
    return parseRoutePrefixes(
      await this.birdc("show", "route", ...(table ? ["table", table] : [])),
    );
  }

  /** Wait until the prefix set equals `expected` (order irrelevant); returns it. */
  async waitRoutes(
    expected: readonly string[],
    timeoutMs: number,
    table?: string,
  ): Promise<string[]> {
    const want = [...expected].sort();
    let last: string[] = [];
    return waitUntil(
      async () => {
        last = await this.routes(table);
        return JSON.stringify(last) === JSON.stringify(want) ? last : undefined;
      },
      {
        timeoutMs,
        what: `${this.label}: routes ${JSON.stringify(want)}`,
        diagnostics: () => `last seen: ${JSON.stringify(last)}\n${this.process.tail()}`,
      },
    );
  }

  /** The current configuration. */
  get currentConfig(): BirdConfig {
    return this.config;
  }

  /** Rewrite the config file and `birdc configure` (e.g. changed statics to withdraw routes). */
  async configure(config: BirdConfig): Promise<void> {
    writeFileSync(this.confPath, renderBirdConfig(config, this.logPath));
    const out = await this.birdc("configure");
    if (!/Reconfigured|Reconfiguration in progress/.test(out)) {
      throw new Error(`${this.label}: configure failed:\n${out}`);
    }
    this.config = config;
  }

  async disable(protocol: string): Promise<void> {
    await this.birdc("disable", protocol);
  }

  async enable(protocol: string): Promise<void> {
    await this.birdc("enable", protocol);
  }

  /** Last lines of BIRD's output, for failure messages. */
  logTail(lines = 30): string {
    return this.process.tail(lines);
  }

  /** Stop the daemon (SIGTERM, SIGKILL after 3 s) and remove its temp dir. */
  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 3000 });
    removeTempDir(this.dir);
  }
}
