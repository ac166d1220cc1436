/**
 * Child processes for tests: one-shot commands with a deadline (`run`) and long-running
 * daemons whose output is captured line by line (`spawnManaged`). Every wait is bounded and
 * every child is killed when the test releases it or, at the latest, when the process exits.
 */
import { appendFileSync } from "node:fs";
import { constants } from "node:os";
import { onProcessExit } from "./cleanup.ts";

/** Argument vector that runs `argv` inside network namespace `netns` (or unchanged). */
export function inNetns(netns: string | undefined, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : ["ip", "netns", "exec", netns, ...argv];
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Kill the command after this long; default 10 s. */
  timeoutMs?: number;
  /** Throw if the exit code is not 0; default true. */
  check?: boolean;
  stdin?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

/** Run a command to completion, bounded by `timeoutMs`. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const full = inNetns(options.netns, argv);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const proc = Bun.spawn(full, {
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    cwd: options.cwd,
    env: options.env === undefined ? undefined : { ...process.env, ...options.env },
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const result = { code, stdout, stderr };
    if (timedOut) {
      throw new CommandError(`${full.join(" ")}: killed after ${timeoutMs} ms`, result);
    }
    if (code !== 0 && options.check !== false) {
      throw new CommandError(
        `${full.join(" ")}: exit code ${code}: ${(stderr || stdout).trim().slice(0, 2000)}`,
        result,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

export interface SpawnOptions {
  /** Run inside this network namespace (`ip netns exec`, which execs: the pid is the program's). */
  netns?: string;
  /** Name used in messages; default the program name. */
  label?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Append every captured line to this file as well. */
  logFile?: string;
  /** Keep at most this many lines in memory (oldest dropped); default 10 000. */
  maxLines?: number;
  /**
   * Have the kernel SIGKILL the child when this process dies, even by SIGKILL (`setpriv
   * --pdeathsig KILL`, util-linux); default true. The exit hooks cover ordinary exits.
   */
  dieWithParent?: boolean;
  /** "pipe": the child's stdin stays open for `write` (default: no stdin). */
  stdin?: "pipe";
  /**
   * Sees every output line first; returning true consumes it (not kept, not matched by
   * `waitForLine`). For a protocol spoken over stdout (scripts/bench/worker-process.ts).
   */
  consumeLine?: (line: OutputLine) => boolean;
}

const hasSetpriv = Bun.which("setpriv") !== null;

export interface OutputLine {
  stream: "stdout" | "stderr";
  text: string;
}

interface LineWaiter {
  pattern: RegExp;
  resolve: (match: RegExpMatchArray) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const live = new Set<ManagedProcess>();

/** 128 + signal number, the shell's convention for "killed by signal". */
function signalExitCode(signal: string | number | null | undefined): number | undefined {
  if (signal === null || signal === undefined) return undefined;
  if (typeof signal === "number") return 128 + signal;
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? undefined : 128 + n;
}

/** A long-running child with captured output. Create with `spawnManaged`. */
export class ManagedProcess {
  readonly pid: number;
  readonly label: string;
  readonly argv: readonly string[];
  /** Resolves with the exit code (128 + n when killed by signal n). */
  readonly exited: Promise<number>;
  private code: number | null = null;
  private readonly buffer: OutputLine[] = [];
  private readonly waiters = new Set<LineWaiter>();
  private readonly proc: Bun.Subprocess<"ignore" | "pipe", "pipe", "pipe">;
  private readonly unregister: () => void;

  constructor(
    argv: readonly string[],
    private readonly options: SpawnOptions,
  ) {
    const guarded =
      options.dieWithParent !== false && hasSetpriv
        ? ["setpriv", "--pdeathsig", "KILL", "--", ...argv]
        : argv;
    this.argv = inNetns(options.netns, guarded);
    this.label = options.label ?? argv[0] ?? "process";
    this.proc = Bun.spawn(this.argv as string[], {
      stdin: options.stdin ?? "ignore",
      stdout: "pipe",
      stderr: "pipe",
      cwd: options.cwd,
      env: options.env === undefined ? undefined : { ...process.env, ...options.env },
    });
    this.pid = this.proc.pid;
    const pid = this.pid;
    this.unregister = onProcessExit(() => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    });
    live.add(this);
    const pumps = Promise.all([
      this.pump(this.proc.stdout, "stdout"),
      this.pump(this.proc.stderr, "stderr"),
    ]);
    this.exited = Promise.all([this.proc.exited, pumps]).then(([exitCode]) => {
      const code = signalExitCode(this.proc.signalCode) ?? exitCode;
      this.code = code;
      live.delete(this);
      this.unregister();
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(
          new Error(
            `${this.label} exited (code ${this.code}) before printing ${waiter.pattern}\n${this.tail()}`,
          ),
        );
      }
      this.waiters.clear();
      return code;
    });
  }

  /** Exit code, or null while running. */
  get exitCode(): number | null {
    return this.code;
  }

  get running(): boolean {
    return this.code === null;
  }

  /** Captured lines so far (both streams, in arrival order). */
  lines(): readonly OutputLine[] {
    return this.buffer;
  }

  /** Captured output as text. */
  output(): string {
    return this.buffer.map((l) => l.text).join("\n");
  }

  /** The last `n` lines, labelled, for error messages. */
  tail(n = 30): string {
    const lines = this.buffer.slice(-n).map((l) => `  [${this.label}] ${l.text}`);
    return lines.length > 0 ? lines.join("\n") : `  [${this.label}] (no output)`;
  }

  /**
   * Resolve with the first line (already captured or future) matching `pattern`. Rejects after
   * `timeoutMs`, or as soon as the process exits without having printed it.
   */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    for (const line of this.buffer) {
      const m = line.text.match(pattern);
      if (m) return Promise.resolve(m);
    }
    if (this.code !== null) {
      return Promise.reject(
        new Error(
          `${this.label} exited (code ${this.code}) without printing ${pattern}\n${this.tail()}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: LineWaiter = {
        pattern,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(
              `${this.label}: no line matching ${pattern} within ${timeoutMs} ms\n${this.tail()}`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Send `signal` (default SIGTERM); SIGKILL after `graceMs` (default 3 s). Resolves with the exit code. */
  async stop(options: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<number> {
    if (this.code !== null) return this.code;
    this.proc.kill(options.signal ?? "SIGTERM");
    const grace = options.graceMs ?? 3000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.proc.kill("SIGKILL");
        resolve();
      }, grace);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /** Write to the child's stdin (spawned with `stdin: "pipe"`); false once it has exited. */
  write(text: string): boolean {
    const stdin = this.proc.stdin;
    if (this.code !== null || typeof stdin !== "object" || stdin === null) return false;
    stdin.write(text);
    stdin.flush();
    return true;
  }

  /** Send a signal without waiting. */
  signal(signal: NodeJS.Signals): void {
    if (this.code === null) this.proc.kill(signal);
  }

  private async pump(
    stream: ReadableStream<Uint8Array>,
    name: OutputLine["stream"],
  ): Promise<void> {
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
        for (const text of parts) this.push({ stream: name, text });
      }
    } catch {
      // stream torn down with the process
    }
    partial += decoder.decode();
    if (partial.length > 0) this.push({ stream: name, text: partial });
  }

  private push(line: OutputLine): void {
    if (this.options.consumeLine?.(line)) return;
    this.buffer.push(line);
    const max = this.options.maxLines ?? 10_000;
    if (this.buffer.length > max) this.buffer.splice(0, this.buffer.length - max);
    if (this.options.logFile !== undefined) {
      try {
        appendFileSync(this.options.logFile, `${line.text}\n`);
      } catch {
        // the log file is a convenience
      }
    }
    for (const waiter of this.waiters) {
      const m = line.text.match(waiter.pattern);
      if (m) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(m);
      }
    }
  }
}

/** Start a long-running child with captured output; it is killed at the latest on process exit. */
export function spawnManaged(argv: readonly string[], options: SpawnOptions = {}): ManagedProcess {
  return new ManagedProcess(argv, options);
}

/** Stop every child started by `spawnManaged` that is still running (for afterAll). */
export async function stopAllProcesses(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop({ graceMs })));
}
