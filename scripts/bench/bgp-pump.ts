/**
 * Worker role `pump`: the raw traffic generator. At start it encodes a table
 * (full-table.ts → update-stream.ts) into one block of UPDATEs; each `run` command then
 * connects to a path's entrance (from a given local address), does the BGP handshake with
 * whatever answers at the far end (OPEN with hold time 0, KEEPALIVE), writes the block as
 * many whole times as come closest to the bytes asked for, honouring backpressure, and
 * half-closes. The reply carries the exact bytes and messages sent.
 */
import { dial, drained, handshake } from "./bgp-client.ts";
import { benchOpen, nowMs } from "./bgp-wire.ts";
import { generateTable, type TableSpec } from "./full-table.ts";
import { encodeUpdateBlock } from "./update-stream.ts";
import { emit, type Fields, need, serveCommands } from "./worker-channel.ts";

export interface PumpArgs {
  table: TableSpec;
  routerAsn: number;
  nextHop4: string;
  nextHop6: string;
}

const SLICE = 256 * 1024;

export async function runPump(args: PumpArgs): Promise<void> {
  const block = encodeUpdateBlock(generateTable(args.table), args);
  const open = benchOpen(args.routerAsn, "10.255.0.1", 0);

  const run = async (command: Fields): Promise<Fields> => {
    const host = need(command.host as string | undefined, "host");
    const port = need(command.port as number | undefined, "port");
    const bytes = need(command.bytes as number | undefined, "bytes");
    const passes = Math.max(1, Math.round(bytes / block.bytes.length));
    const timeoutMs = (command.timeoutMs as number | undefined) ?? 600_000;
    const socket = await dial(host, port, command.localAddress as string | undefined);
    const timer = setTimeout(() => socket.destroy(new Error("pump: run timed out")), timeoutMs);
    try {
      const t0 = nowMs();
      await handshake(socket, open);
      const startedAt = nowMs();
      for (let p = 0; p < passes; p++) {
        for (let at = 0; at < block.bytes.length; at += SLICE) {
          if (!socket.write(block.bytes.subarray(at, at + SLICE))) await drained(socket);
        }
      }
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.end(() => resolve());
      });
      return {
        sent: passes * block.bytes.length,
        messages: passes * block.messages,
        prefixes: passes * block.prefixes,
        handshakeMs: startedAt - t0,
        startedAt,
        writtenAt: nowMs(),
      };
    } finally {
      clearTimeout(timer);
      socket.on("error", () => {});
      setTimeout(() => socket.destroy(), 30_000).unref();
    }
  };

  serveCommands({ run });
  emit("ready", {
    blockBytes: block.bytes.length,
    messages: block.messages,
    prefixes: block.prefixes,
  });
}
