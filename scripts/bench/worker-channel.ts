/**
 * The worker's side of the JSON-lines protocol (see worker-process.ts): commands on stdin,
 * replies and events on stdout. When stdin closes (the bench is gone) the worker exits.
 */
export type Fields = Record<string, unknown>;
export type CommandHandler = (command: Fields) => Fields | Promise<Fields>;

/** Print an event line. */
export function emit(event: string, fields: Fields = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** Answer commands until stdin ends; `onEnd` runs then (default: exit 0). */
export function serveCommands(
  handlers: Readonly<Record<string, CommandHandler>>,
  onEnd: () => void = () => process.exit(0),
): void {
  let partial = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) void answer(handlers, line);
  });
  process.stdin.on("end", onEnd);
}

async function answer(handlers: Readonly<Record<string, CommandHandler>>, line: string) {
  let id: unknown;
  try {
    const command = JSON.parse(line) as Fields;
    id = command.id;
    const handler = handlers[String(command.cmd)];
    if (!handler) throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
    const result = await handler(command);
    process.stdout.write(`${JSON.stringify({ ...result, reply: id })}\n`);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    process.stdout.write(`${JSON.stringify({ reply: id, error })}\n`);
  }
}

/** Required string/number arguments, with a clear error. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`missing ${what}`);
  return value;
}
