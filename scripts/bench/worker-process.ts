/**
 * A benchmark worker (scripts/bench/worker.ts <role>) running inside a namespace, driven
 * over a JSON-lines protocol: the bench writes `{"id": n, "cmd": "...", ...}` lines to its
 * stdin; the worker answers `{"reply": n, ...}` (or `{"reply": n, "error": "..."}`) and may
 * print `{"event": "..."}` lines at any time. Other output lines (a role's logs) are kept,
 * bounded, for failure messages.
 *
 * The process itself is test/support/process.ts's ManagedProcess (the runner the tests use:
 * `setpriv --pdeathsig KILL`, killed by the process-exit hooks, output captured), so an
 * interrupted bench leaves nothing running; this file only speaks the protocol.
 */
import { resolve } from "node:path";
import { type ManagedProcess, type OutputLine, spawnManaged } from "../../test/support/process.ts";

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
  private readonly process: ManagedProcess;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Set<EventWaiter>();
  private readonly events: Message[] = [];
  private nextId = 1;
  private code: number | null = null;

  constructor(options: WorkerStartOptions) {
    this.label = options.label ?? options.role;
    const argv = [
      process.execPath,
      ...(options.bunFlags ?? []),
      WORKER,
      options.role,
      JSON.stringify(options.args ?? {}),
    ];
    this.process = spawnManaged(argv, {
      netns: options.netns,
      label: this.label,
      env: options.env ?? {},
      stdin: "pipe",
      maxLines: MAX_LINES,
      consumeLine: (line) => this.consume(line),
    });
    this.pid = this.process.pid;
    this.exited = this.process.exited.then((code) => {
      this.code = code;
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
      this.process.write(`${JSON.stringify({ ...payload, id, cmd })}\n`);
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
    return this.process.tail(n);
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code. */
  async stop(graceMs = 5_000): Promise<number> {
    await this.process.stop({ graceMs });
    return this.exited;
  }

  /** A protocol line (reply or event) is consumed here; anything else is kept as output. */
  private consume(line: OutputLine): boolean {
    if (line.stream !== "stdout" || !line.text.startsWith("{")) return false;
    let m: Message | undefined;
    try {
      m = JSON.parse(line.text) as Message;
    } catch {
      return false;
    }
    if (typeof m.reply === "number") {
      const p = this.pending.get(m.reply);
      if (p) {
        this.pending.delete(m.reply);
        clearTimeout(p.timer);
        if (typeof m.error === "string") p.reject(new Error(`${this.label}: ${m.error}`));
        else p.resolve(m);
      }
      return true;
    }
    if (typeof m.event !== "string") return false;
    this.events.push(m);
    if (this.events.length > 10_000) this.events.splice(0, 5_000);
    for (const w of this.waiters) {
      if (w.match(m)) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(m);
      }
    }
    return true;
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
