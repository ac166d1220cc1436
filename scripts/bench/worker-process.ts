/**
 * A benchmark worker (scripts/bench/worker.ts <role>) running inside a namespace, driven
 * over a JSON-lines protocol: the bench writes `{"id": n, "cmd": "...", ...}` lines to its
 * stdin; the worker answers `{"reply": n, ...}` (or `{"reply": n, "error": "..."}`) and may
 * print `{"event": "..."}` lines at any time. Other stdout lines (a role's logs) and stderr
 * are kept, bounded, for failure messages.
 *
 * The child runs under `setpriv --pdeathsig KILL` and is also killed by the process-exit
 * hooks (test/support/cleanup.ts), so an interrupted bench leaves nothing running.
 */
import { resolve } from "node:path";
import type { FileSink } from "bun";
import { onProcessExit } from "../../test/support/cleanup.ts";
import { inNetns } from "../../test/support/process.ts";

const WORKER = resolve(import.meta.dir, "worker.ts");
const MAX_LINES = 400;

export type Message = Record<string, unknown>;

interface Pending {
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface EventWaiter {
  match: (m: Message) => boolean;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface WorkerStartOptions {
  netns: string;
  role: string;
  /** Passed to the role as its JSON argument. */
  args?: unknown;
  label?: string;
  /** Runtime flags before the script (e.g. --cpu-prof). */
  bunFlags?: readonly string[];
  env?: Record<string, string | undefined>;
}

export class WorkerProcess {
  readonly pid: number;
  readonly label: string;
  readonly exited: Promise<number>;
  private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  private readonly stdin: FileSink;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Set<EventWaiter>();
  private readonly events: Message[] = [];
  private readonly lines: string[] = [];
  private nextId = 1;
  private code: number | null = null;
  private readonly unregister: () => void;

  constructor(options: WorkerStartOptions) {
    this.label = options.label ?? options.role;
    const argv = inNetns(options.netns, [
      "setpriv",
      "--pdeathsig",
      "KILL",
      "--",
      process.execPath,
      ...(options.bunFlags ?? []),
      WORKER,
      options.role,
      JSON.stringify(options.args ?? {}),
    ]);
    this.proc = Bun.spawn(argv, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...options.env },
    });
    this.stdin = this.proc.stdin;
    this.pid = this.proc.pid;
    const pid = this.pid;
    this.unregister = onProcessExit(() => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    });
    const pumps = Promise.all([
      this.pump(this.proc.stdout, true),
      this.pump(this.proc.stderr, false),
    ]);
    this.exited = Promise.all([this.proc.exited, pumps]).then(([code]) => {
      this.code = code;
      this.unregister();
      const err = new Error(`${this.label} exited with code ${code}\n${this.tail()}`);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      this.waiters.clear();
      return code;
    });
  }

  get running(): boolean {
    return this.code === null;
  }

  /** Send a command and wait (bounded) for its reply. */
  request<T extends Message = Message>(
    cmd: string,
    payload: Message = {},
    timeoutMs = 30_000,
  ): Promise<T> {
    if (this.code !== null) {
      return Promise.reject(new Error(`${this.label} has exited (code ${this.code})`));
    }
    const id = this.nextId++;
    return new Promise<T>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(`${this.label}: no reply to ${cmd} within ${timeoutMs} ms\n${this.tail()}`),
        );
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (m) => resolvePromise(m as T),
        reject,
        timer,
      });
      this.stdin.write(`${JSON.stringify({ ...payload, id, cmd })}\n`);
      this.stdin.flush();
    });
  }

  /** The first event (already seen or future) named `name` and passing `where`. */
  waitEvent<T extends Message = Message>(
    name: string,
    timeoutMs: number,
    where: (m: Message) => boolean = () => true,
  ): Promise<T> {
    const match = (m: Message) => m.event === name && where(m);
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen as T);
    if (this.code !== null) {
      return Promise.reject(new Error(`${this.label} exited before event ${name}\n${this.tail()}`));
    }
    return new Promise<T>((resolvePromise, reject) => {
      const waiter: EventWaiter = {
        match,
        resolve: (m) => resolvePromise(m as T),
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(`${this.label}: no ${name} event within ${timeoutMs} ms\n${this.tail()}`),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Forget the events seen so far (before a new run on a long-lived worker). */
  clearEvents(): void {
    this.events.length = 0;
  }

  /** Last output lines, labelled. */
  tail(n = 25): string {
    const lines = this.lines.slice(-n).map((l) => `  [${this.label}] ${l}`);
    return lines.length > 0 ? lines.join("\n") : `  [${this.label}] (no output)`;
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code. */
  async stop(graceMs = 5_000): Promise<number> {
    if (this.code !== null) return this.code;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  private async pump(stream: ReadableStream<Uint8Array>, protocol: boolean): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        partial += decoder.decode(value, { stream: true });
        const parts = partial.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) this.line(line, protocol);
      }
    } catch {
      // torn down with the process
    }
    if (partial) this.line(partial, protocol);
  }

  private line(text: string, protocol: boolean): void {
    if (protocol && text.startsWith("{")) {
      let m: Message | undefined;
      try {
        m = JSON.parse(text) as Message;
      } catch {
        m = undefined;
      }
      if (m && typeof m.reply === "number") {
        const p = this.pending.get(m.reply);
        if (p) {
          this.pending.delete(m.reply);
          clearTimeout(p.timer);
          if (typeof m.error === "string") p.reject(new Error(`${this.label}: ${m.error}`));
          else p.resolve(m);
        }
        return;
      }
      if (m && typeof m.event === "string") {
        this.events.push(m);
        if (this.events.length > 10_000) this.events.splice(0, 5_000);
        for (const w of this.waiters) {
          if (w.match(m)) {
            clearTimeout(w.timer);
            this.waiters.delete(w);
            w.resolve(m);
          }
        }
        return;
      }
    }
    this.lines.push(text);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
  }
}

/** Start a worker and wait for its `ready` event (bounded). */
export async function startWorker(
  options: WorkerStartOptions,
  readyTimeoutMs = 60_000,
): Promise<WorkerProcess> {
  const worker = new WorkerProcess(options);
  try {
    await worker.waitEvent("ready", readyTimeoutMs);
  } catch (err) {
    await worker.stop();
    throw err;
  }
  return worker;
}
