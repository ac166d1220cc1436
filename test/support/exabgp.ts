/**
 * ExaBGP as a router for end-to-end tests: a typed config rendered to ExaBGP's config file,
 * `exabgp` run in the foreground inside a namespace, routes withdrawn and announced through its
 * API, and its neighbour state read from the JSON events it sends to that API.
 *
 * What ExaBGP 4.2 (Debian 12 package exabgp) needs, measured:
 * - Settings come from `exabgp.<section>.<key>` environment variables: daemonize=false and
 *   log.destination=stdout keep it in the foreground with its log captured (PYTHONUNBUFFERED
 *   so lines arrive as they are written); daemon.drop=false keeps it root (it would switch to
 *   the `exabgp` user, which cannot read our temp dir); api.cli=false: no control pipes in
 *   /run/exabgp shared by every instance; tcp.bind empty: no BGP listener; api.ack=false: no
 *   "done" lines mixed into the JSON events.
 * - Routes are `static` in each neighbour block. IPv6 routes over an IPv4 session need an
 *   explicit IPv6 `next-hop` (`self` would be the IPv4 session address).
 * - The API is a `process`: ExaBGP reads commands from its stdout and writes JSON events to its
 *   stdin. Our process is a small shell script: it copies a FIFO in the temp dir to stdout
 *   (`cat <> fifo`: read-write, so it never sees EOF and writers never block) and stdin to
 *   events.json. A command applies only to the neighbours whose `api` block names the process,
 *   and a withdrawal must repeat the route's next hop. `neighbor-changes` in that block
 *   makes ExaBGP report "connected", "up" and "down" (with the reason, e.g. "notification sent
 *   (2,2) ... Bad Peer AS") for each neighbour; ExaBGP's own log says little at INFO level.
 * - The FIFO copier would outlive ExaBGP (a background `cat` nobody reads from, still holding
 *   the FIFO): it runs under `setpriv --pdeathsig KILL`, so it dies with the script.
 * - A neighbour is dialled at once; after a failure ExaBGP retries after 1, 2, 3 ... s.
 */
import {
  appendFileSync,
  closeSync,
  constants,
  openSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";
import { makeTempDir, removeTempDir } from "./tempdir.ts";
import { waitUntil } from "./wait.ts";

/** Why ExaBGP cannot be used here ("" when it can). */
export function exabgpMissing(): string {
  return Bun.which("exabgp") === null ? "exabgp not installed (Debian package exabgp)" : "";
}

export interface ExabgpRoute {
  prefix: string;
  /** An address, or "self" (the session's local address: IPv4 routes only, see above). */
  nextHop: string;
}

export interface ExabgpNeighbor {
  address: string;
  asn: number;
  localAddress: string;
}

export interface ExabgpConfig {
  routerId: string;
  asn: number;
  neighbors: readonly ExabgpNeighbor[];
  /** Announced to every neighbour. */
  routes: readonly ExabgpRoute[];
}

const API_PROCESS = "tests";

/** Render ExaBGP's config; `apiScript` is the API process's executable. */
export function renderExabgpConfig(config: ExabgpConfig, apiScript: string): string {
  const lines = [`process ${API_PROCESS} {`, `    run ${apiScript};`, "    encoder json;", "}"];
  for (const n of config.neighbors) {
    lines.push(
      "",
      `neighbor ${n.address} {`,
      `    router-id ${config.routerId};`,
      `    local-address ${n.localAddress};`,
      `    local-as ${config.asn};`,
      `    peer-as ${n.asn};`,
      "    api {",
      `        processes [ ${API_PROCESS} ];`,
      "        neighbor-changes;",
      "    }",
      "    family {",
      "        ipv4 unicast;",
      "        ipv6 unicast;",
      "    }",
      "    static {",
      ...config.routes.map((r) => `        route ${r.prefix} next-hop ${r.nextHop};`),
      "    }",
      "}",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The API process: FIFO -> stdout (commands), stdin -> events file (see the file comment). */
export function renderApiScript(fifo: string, events: string): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const guard = Bun.which("setpriv") !== null ? "setpriv --pdeathsig KILL -- " : "";
  return ["#!/bin/sh", `${guard}cat <> ${q(fifo)} &`, `exec cat > ${q(events)}`, ""].join("\n");
}

/** One `"type": "state"` event of ExaBGP's JSON API. */
export interface ExabgpStateEvent {
  peer: string;
  local: string;
  /** "connected", "up", "down" */
  state: string;
  reason?: string;
}

interface RawEvent {
  type?: string;
  neighbor?: { address?: { local?: string; peer?: string }; state?: string; reason?: string };
}

/** The state events of an events file (one JSON object per line; other lines skipped). */
export function parseExabgpStateEvents(text: string): ExabgpStateEvent[] {
  const out: ExabgpStateEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let ev: RawEvent;
    try {
      ev = JSON.parse(line) as RawEvent;
    } catch {
      continue; // a line being written
    }
    const n = ev.neighbor;
    if (ev.type !== "state" || !n?.address?.peer || !n.state) continue;
    out.push({
      peer: n.address.peer,
      local: n.address.local ?? "",
      state: n.state,
      ...(n.reason === undefined ? {} : { reason: n.reason }),
    });
  }
  return out;
}

export interface ExabgpStartOptions {
  netns: Netns | string;
  label?: string;
  /** Bound on startup, default 10 s. */
  startTimeoutMs?: number;
}

/** A running ExaBGP. */
export class Exabgp {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly fifo: string,
    readonly eventsPath: string,
    readonly process: ManagedProcess,
    private readonly routes: readonly ExabgpRoute[],
  ) {}

  static async start(config: ExabgpConfig, options: ExabgpStartOptions): Promise<Exabgp> {
    const label = options.label ?? "exabgp";
    const dir = makeTempDir(label.replaceAll(/[^A-Za-z0-9_-]/g, "_"));
    const fifo = join(dir, "api.fifo");
    const events = join(dir, "events.json");
    const script = join(dir, "api.sh");
    const confPath = join(dir, "exabgp.conf");
    await run(["mkfifo", "-m", "600", fifo]);
    writeFileSync(events, "");
    writeFileSync(script, renderApiScript(fifo, events), { mode: 0o700 });
    writeFileSync(confPath, renderExabgpConfig(config, script));
    const netns = typeof options.netns === "string" ? options.netns : options.netns.name;
    const proc = spawnManaged(["exabgp", confPath], {
      netns,
      label,
      cwd: dir,
      env: {
        PYTHONUNBUFFERED: "1",
        "exabgp.daemon.daemonize": "false",
        "exabgp.daemon.drop": "false",
        "exabgp.log.destination": "stdout",
        "exabgp.log.level": "INFO",
        "exabgp.api.cli": "false",
        "exabgp.api.ack": "false",
        "exabgp.tcp.bind": "",
      },
    });
    const exabgp = new Exabgp(label, dir, fifo, events, proc, config.routes);
    try {
      await proc.waitForLine(
        /loaded new configuration successfully/,
        options.startTimeoutMs ?? 10_000,
      );
    } catch (err) {
      await exabgp.stop();
      throw err;
    }
    return exabgp;
  }

  /** Every neighbour state event so far, oldest first. */
  stateEvents(): ExabgpStateEvent[] {
    return parseExabgpStateEvents(readFileSync(this.eventsPath, "utf8"));
  }

  /** The latest state ExaBGP reported for neighbour `peer` ("up" = Established). */
  neighborState(peer: string): string | undefined {
    return this.stateEvents()
      .filter((e) => e.peer === peer)
      .at(-1)?.state;
  }

  async waitEstablished(peer: string, timeoutMs: number, diagnostics?: () => string) {
    await waitUntil(() => this.neighborState(peer) === "up", {
      timeoutMs,
      what: `${this.label}: neighbor ${peer} up (API state event)`,
      diagnostics: () => `${this.eventsTail()}\n${this.logTail()}\n${diagnostics?.() ?? ""}`,
    });
  }

  /**
   * Send one API command. The FIFO is opened non-blocking: if no API process is reading it
   * (ExaBGP gone), this throws ENXIO instead of hanging.
   */
  command(line: string): void {
    if (line.includes("\n")) throw new Error("exabgp: one command per call");
    const fd = openSync(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      appendFileSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  }

  /** Withdraw configured routes (by prefix) from every neighbour. */
  withdraw(prefixes: readonly string[]): void {
    for (const p of prefixes) {
      const route = this.routes.find((r) => r.prefix === p);
      if (!route) throw new Error(`${this.label}: ${p} is not a configured route`);
      this.command(`withdraw route ${route.prefix} next-hop ${route.nextHop}`);
    }
  }

  eventsTail(lines = 10): string {
    const text = readFileSync(this.eventsPath, "utf8").trimEnd().split("\n").slice(-lines);
    return `--- ${this.label} API events\n${text.join("\n")}`;
  }

  logTail(lines = 30): string {
    return this.process.tail(lines);
  }

  /** Stop ExaBGP (SIGTERM, SIGKILL after 3 s; its API process follows) and remove the dir. */
  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 3000 });
    removeTempDir(this.dir);
  }
}
