/**
 * A real HAProxy (Debian's haproxy 2.6) in a test namespace, in the foreground, running a
 * given configuration file with environment variables (the shipped
 * image/haproxy/haproxy.cfg reads its addresses from them). `reload()` is the classic
 * soft reload: a new process started with `-sf <old pid> -x <socket>` takes the listening
 * sockets over, and the old one finishes its connections. The runtime API socket answers
 * `show stat` (servers' state and current sessions).
 */
import { connect } from "node:net";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { type ManagedProcess, run } from "./process.ts";
import { waitUntil } from "./wait.ts";

export interface HaproxyOptions {
  netns: Netns;
  /** The configuration file. */
  config: string;
  /** Environment the configuration reads (its `${VAR}`s). */
  env: Record<string, string>;
  /** Scratch directory: the runtime API socket lives here. */
  dir: string;
  label?: string;
}

export interface ServerStat {
  proxy: string;
  server: string;
  /** "UP", "DOWN", "MAINT", "no check", ... */
  status: string;
  /** Current sessions (for an HTTP/2 backend: streams in progress). */
  current: number;
  /** Sessions since start. */
  total: number;
}

/** `haproxy -c`: checks a configuration file, returns HAProxy's output; throws when invalid. */
export async function checkHaproxyConfig(
  config: string,
  env: Record<string, string>,
): Promise<string> {
  const r = await run(["haproxy", "-c", "-f", config], { env, timeoutMs: 10_000 });
  return `${r.stdout}${r.stderr}`;
}

export class Haproxy {
  /** Every process started, oldest first; the last one is the current. */
  readonly processes: ManagedProcess[] = [];
  readonly socket: string;

  private constructor(private readonly options: HaproxyOptions) {
    this.socket = join(options.dir, "haproxy.sock");
  }

  static async start(options: HaproxyOptions): Promise<Haproxy> {
    const h = new Haproxy(options);
    await h.launch([]);
    return h;
  }

  get current(): ManagedProcess {
    const p = this.processes.at(-1);
    if (!p) throw new Error("haproxy: not started");
    return p;
  }

  private async launch(extra: readonly string[]): Promise<void> {
    const n = this.processes.length;
    const proc = this.options.netns.spawn(["haproxy", "-f", this.options.config, ...extra], {
      label: `${this.options.label ?? "haproxy"}#${n + 1}`,
      env: { ...this.options.env, BGPROXY_HAPROXY_SOCKET: this.socket },
    });
    this.processes.push(proc);
    // Ready when the runtime API answers through this process (the new one after a reload).
    await waitUntil(
      async () => {
        if (!proc.running) throw new Error(`haproxy exited (code ${proc.exitCode})`);
        const info = await this.command("show info").catch(() => "");
        return info.includes(`Pid: ${proc.pid}`);
      },
      { timeoutMs: 10_000, what: "haproxy ready", diagnostics: () => proc.tail(30) },
    );
  }

  /** Soft reload: a new process takes the listeners over; the old one drains. */
  async reload(): Promise<void> {
    const old = this.current;
    await this.launch(["-x", this.socket, "-sf", String(old.pid)]);
  }

  /** One runtime API command over the unix socket; the answer's text. */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const sock = connect(this.socket);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`haproxy: no answer to ${line}`));
      }, 3000);
      sock.on("connect", () => sock.write(`${line}\n`));
      sock.on("data", (c: Buffer) => chunks.push(c));
      sock.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      sock.on("close", () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
    });
  }

  /** The servers of every backend, from `show stat`. */
  async servers(): Promise<ServerStat[]> {
    const csv = await this.command("show stat");
    const [header, ...rows] = csv.split("\n").filter((l) => l.trim() !== "");
    const cols = (header ?? "").replace(/^# /, "").split(",");
    const at = (name: string) => cols.indexOf(name);
    return rows
      .map((r) => r.split(","))
      .filter((f) => f[at("svname")] !== "FRONTEND" && f[at("svname")] !== "BACKEND")
      .map((f) => ({
        proxy: f[at("pxname")] ?? "",
        server: f[at("svname")] ?? "",
        status: f[at("status")] ?? "",
        current: Number(f[at("scur")] ?? 0),
        total: Number(f[at("stot")] ?? 0),
      }));
  }

  /** Stop every process (new and draining), SIGTERM then SIGKILL. */
  async stop(): Promise<void> {
    for (const p of [...this.processes].reverse()) await p.stop({ graceMs: 2000 });
  }

  tail(lines = 30): string {
    return this.processes.map((p) => `--- ${p.label}\n${p.tail(lines)}`).join("\n");
  }
}
