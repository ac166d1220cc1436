/**
 * The real `bgproxy agent` and `bgproxy gateway` programs as child processes (src/main.ts run
 * by the same Bun that runs the tests), usually inside a test namespace: the gateway's TOML
 * rendered from a typed description, readiness awaited on their JSON log lines ("gateway
 * started", "agent started", "control stream connected"), their log records parsed for
 * assertions, and the gateway's HTTP API read from inside its namespace with a `bun -e` fetch
 * (the test process lives in the root namespace and cannot reach the namespace's 127.0.0.1).
 *
 * Every wait is bounded and fails with the process's output tail. The token reaches the agent
 * through KENTIK_API_TOKEN, not argv; proxy variables are cleared so gRPC stays on loopback.
 */

import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sha256Hex } from "../../src/core/sha256.ts";
import type { DeviceView } from "../../src/gateway/device-view.ts";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run, spawnManaged } from "./process.ts";
import { waitUntil } from "./wait.ts";

const ROOT = resolve(import.meta.dir, "..", "..");
const MAIN = join(ROOT, "src", "main.ts");

export const E2E_EMAIL = "e2e@example.net";
export const E2E_TOKEN = "e2e-token-0123456789abcdef";

/** Nothing of the test machine's proxy settings may divert the agent's gRPC connection. */
export const NO_PROXY_ENV: Record<string, string | undefined> = {
  HTTPS_PROXY: undefined,
  HTTP_PROXY: undefined,
  https_proxy: undefined,
  http_proxy: undefined,
  NO_PROXY: "*",
  no_proxy: "*",
};

export interface GatewayDevice {
  name: string;
  id: number;
  ip: string;
  site?: number;
  md5Key?: string;
  target: "collector" | "forward";
  /** host:port of the BGP daemon, target "forward" only. */
  forward?: string;
  forwardSource?: string;
}

export interface GatewayFileSpec {
  accounts?: readonly { email: string; token: string }[];
  collector: { asn: number; routerId: string; holdTime?: number };
  devices: readonly GatewayDevice[];
  /** [mrt]: periodic MRT dumps. */
  mrt?: { dir: string; interval?: number; keep?: number };
  /** [[bmp]] stations, "host:port". */
  bmp?: readonly string[];
}

const str = (s: string) => JSON.stringify(s);

/** The gateway's TOML (keys as src/config/gateway-file.ts accepts them). */
export function renderGatewayToml(spec: GatewayFileSpec): string {
  const accounts = spec.accounts ?? [{ email: E2E_EMAIL, token: E2E_TOKEN }];
  const lines: string[] = [];
  for (const a of accounts) {
    lines.push(
      "[[account]]",
      `email = ${str(a.email)}`,
      `token_sha256 = ${str(sha256Hex(a.token))}`,
      "",
    );
  }
  lines.push(
    "[collector]",
    `asn = ${spec.collector.asn}`,
    `router_id = ${str(spec.collector.routerId)}`,
  );
  if (spec.collector.holdTime !== undefined) lines.push(`hold_time = ${spec.collector.holdTime}`);
  for (const d of spec.devices) {
    lines.push(
      "",
      "[[device]]",
      `name = ${str(d.name)}`,
      `id = ${d.id}`,
      `site = ${d.site ?? 0}`,
      `ip = ${str(d.ip)}`,
      `target = ${str(d.target)}`,
    );
    if (d.md5Key !== undefined) lines.push(`md5_key = ${str(d.md5Key)}`);
    if (d.forward !== undefined) lines.push(`forward = ${str(d.forward)}`);
    if (d.forwardSource !== undefined) lines.push(`forward_source = ${str(d.forwardSource)}`);
  }
  if (spec.mrt) {
    lines.push("", "[mrt]", `dir = ${str(spec.mrt.dir)}`);
    if (spec.mrt.interval !== undefined) lines.push(`interval = ${spec.mrt.interval}`);
    if (spec.mrt.keep !== undefined) lines.push(`keep = ${spec.mrt.keep}`);
  }
  for (const b of spec.bmp ?? []) lines.push("", "[[bmp]]", `address = ${str(b)}`);
  return `${lines.join("\n")}\n`;
}

export type LogRecord = Record<string, unknown> & { level: string; msg: string };

/** A running bgproxy role with JSON logs on stdout. */
export class BgproxyProcess {
  constructor(readonly process: ManagedProcess) {}

  /** Every JSON log line so far, parsed (other lines are skipped). */
  records(): LogRecord[] {
    const out: LogRecord[] = [];
    for (const line of this.process.lines()) {
      if (!line.text.startsWith("{")) continue;
      try {
        out.push(JSON.parse(line.text) as LogRecord);
      } catch {
        // a partial or foreign line
      }
    }
    return out;
  }

  /** Records whose msg equals `msg` (or matches it, when a RegExp). */
  find(msg: string | RegExp): LogRecord[] {
    return this.records().filter((r) =>
      typeof msg === "string" ? r.msg === msg : msg.test(r.msg),
    );
  }

  /** Wait for a record with message `msg` (and, optionally, passing `where`); returns it. */
  waitForRecord(
    msg: string | RegExp,
    timeoutMs: number,
    where: (r: LogRecord) => boolean = () => true,
  ): Promise<LogRecord> {
    return waitUntil(
      () => {
        if (!this.process.running) {
          throw new Error(`${this.process.label} exited (code ${this.process.exitCode})`);
        }
        return this.find(msg).find(where);
      },
      {
        timeoutMs,
        what: `${this.process.label}: log record ${String(msg)}`,
        diagnostics: () => this.tail(),
      },
    );
  }

  tail(lines = 40): string {
    return this.process.tail(lines);
  }

  stop(): Promise<number> {
    return this.process.stop({ graceMs: 3000 });
  }
}

async function started(proc: ManagedProcess, msg: string, timeoutMs: number): Promise<LogRecord> {
  const line = await proc.waitForLine(new RegExp(`"msg":${JSON.stringify(msg)}`), timeoutMs);
  return JSON.parse(line.input ?? "{}") as LogRecord;
}

function portOf(hostPort: unknown, what: string): number {
  const m = typeof hostPort === "string" ? hostPort.match(/:(\d+)$/) : null;
  if (!m?.[1]) throw new Error(`cannot read the port of ${what} from ${String(hostPort)}`);
  return Number(m[1]);
}

export interface GatewayStartOptions {
  netns: Netns;
  /** Where the TOML is written. */
  dir: string;
  spec: GatewayFileSpec;
  /** Read this file or directory instead of writing `spec` to `dir`/gateway.toml. */
  config?: string;
  /** `--name`: the gateway's backend-pin. */
  name?: string;
  /** `--export-listen` (default: the gateway's own default, port 4318). */
  exportListen?: string;
  /** gRPC listen address, default 127.0.0.1:0. */
  listen?: string;
  /** HTTP API address, default 127.0.0.1:0. */
  httpListen?: string;
  logLevel?: "info" | "debug" | "trace";
  label?: string;
  /** Bound on startup, default 15 s. */
  startTimeoutMs?: number;
  /** Serve TLS with this certificate and key instead of --insecure. */
  tls?: { certFile: string; keyFile: string };
  /** Runtime flags before the program (the bench's `--cpu-prof ...`). */
  bunFlags?: readonly string[];
  /** Output lines kept in memory (ManagedProcess default 10 000). */
  maxLines?: number;
}

/** Prints the body of GET argv[1]; exits 1 on a non-2xx status. */
const FETCH_SCRIPT = [
  "const r = await fetch(process.argv.at(-1), { signal: AbortSignal.timeout(3000) });",
  "const body = await r.text();",
  'if (!r.ok) { console.error("HTTP " + r.status + ": " + body); process.exit(1); }',
  "process.stdout.write(body);",
].join("\n");

export class GatewayProcess extends BgproxyProcess {
  constructor(
    proc: ManagedProcess,
    readonly netns: Netns,
    /** The gRPC port as bound. */
    readonly port: number,
    /** The HTTP API port as bound. */
    readonly httpPort: number,
  ) {
    super(proc);
  }

  /** `host:port` agents in the same namespace dial. */
  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * GET a JSON endpoint of the HTTP API from inside the namespace: a one-line `bun -e` fetch
   * (no curl needed), bounded by a 3 s abort and a 5 s kill.
   */
  async api<T>(path: string): Promise<T> {
    return JSON.parse(await this.apiText(path)) as T;
  }

  /** GET a text endpoint (e.g. /metrics) of the HTTP API from inside the namespace. */
  async apiText(path: string): Promise<string> {
    const url = `http://127.0.0.1:${this.httpPort}${path}`;
    const r = await run([process.execPath, "-e", FETCH_SCRIPT, url], {
      netns: this.netns.name,
      timeoutMs: 5000,
    });
    return r.stdout;
  }

  devices(): Promise<DeviceView[]> {
    return this.api<DeviceView[]>("/api/devices");
  }

  /**
   * Every prefix the collector holds for device `name`, sorted: `longer` queries of 0.0.0.0/0
   * and ::/0 (at most `limit` each; a truncated answer throws). A device whose session never
   * reached the collector has no RIB (404): an empty list.
   */
  async routePrefixes(name: string, limit = 1000): Promise<string[]> {
    const out: string[] = [];
    for (const all of ["0.0.0.0/0", "::/0"]) {
      const path = `/api/devices/${encodeURIComponent(name)}/routes?prefix=${all}&longer&limit=${limit}`;
      const text = await this.apiText(path).catch((err: unknown) => {
        if (String(err).includes("HTTP 404")) return '{"routes":[]}';
        throw err;
      });
      const body = JSON.parse(text) as { routes: { prefix: string }[]; truncated?: boolean };
      if (body.truncated) throw new Error(`${name}: more than ${limit} routes under ${all}`);
      out.push(...body.routes.map((r) => r.prefix));
    }
    return out.sort();
  }

  async device(name: string): Promise<DeviceView> {
    const found = (await this.devices()).find((d) => d.name === name);
    if (!found) throw new Error(`gateway: no device ${name} in /api/devices`);
    return found;
  }
}

/** One element of `GET /api/devices`. */
export type { DeviceView };

/** Write the config, start `bgproxy gateway` and wait for its "gateway started" line. */
export async function startGatewayProcess(options: GatewayStartOptions): Promise<GatewayProcess> {
  const configPath = options.config ?? join(options.dir, "gateway.toml");
  if (options.config === undefined) writeFileSync(configPath, renderGatewayToml(options.spec));
  const label = options.label ?? "gateway";
  const proc = spawnManaged(
    [
      process.execPath,
      ...(options.bunFlags ?? []),
      MAIN,
      "gateway",
      "--config",
      configPath,
      "--listen",
      options.listen ?? "127.0.0.1:0",
      "--http-listen",
      options.httpListen ?? "127.0.0.1:0",
      ...(options.tls
        ? ["--tls-cert", options.tls.certFile, "--tls-key", options.tls.keyFile]
        : ["--insecure"]),
      "--log-level",
      options.logLevel ?? "debug",
      ...(options.name === undefined ? [] : ["--name", options.name]),
      ...(options.exportListen === undefined ? [] : ["--export-listen", options.exportListen]),
    ],
    { netns: options.netns.name, label, cwd: ROOT, env: NO_PROXY_ENV, maxLines: options.maxLines },
  );
  try {
    const rec = await started(proc, "gateway started", options.startTimeoutMs ?? 15_000);
    return new GatewayProcess(
      proc,
      options.netns,
      portOf(rec.listen, "the gRPC listener"),
      portOf(rec.http, "the HTTP listener"),
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

export interface AgentStartOptions {
  netns: Netns;
  /** Router-facing listeners, e.g. ["10.255.1.2:179", "[fd00:255:1::2]:179"]. */
  listen: readonly string[];
  /** The gateway's host:port. */
  target: string;
  /** Dial with TLS, trusting `caFile` and verifying `serverName`, instead of --insecure. */
  tls?: { caFile: string; serverName: string };
  email?: string;
  token?: string;
  logLevel?: "info" | "debug" | "trace";
  label?: string;
  /** Bound on startup and on the first control stream, default 15 s. */
  startTimeoutMs?: number;
  /** More flags, e.g. ["--bridge-timeout", "0"]. */
  extraArgs?: readonly string[];
}

/**
 * Start `bgproxy agent` (plain gRPC, no log export, metrics on any free port) and wait until it
 * has started and its control stream to the gateway is up.
 */
export async function startAgentProcess(options: AgentStartOptions): Promise<BgproxyProcess> {
  const label = options.label ?? "agent";
  const proc = spawnManaged(
    [
      process.execPath,
      MAIN,
      "agent",
      "--listen",
      options.listen.join(","),
      "--target",
      options.target,
      ...(options.tls
        ? ["--ca-file", options.tls.caFile, "--tls-server-name", options.tls.serverName]
        : ["--insecure"]),
      "--email",
      options.email ?? E2E_EMAIL,
      "--disable-log-export",
      "--metrics-port",
      "0",
      "--log-level",
      options.logLevel ?? "debug",
      ...(options.extraArgs ?? []),
    ],
    {
      netns: options.netns.name,
      label,
      cwd: ROOT,
      env: { ...NO_PROXY_ENV, KENTIK_API_TOKEN: options.token ?? E2E_TOKEN },
    },
  );
  const agent = new BgproxyProcess(proc);
  try {
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    await started(proc, "agent started", timeoutMs);
    await agent.waitForRecord("control stream connected", timeoutMs);
    return agent;
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
