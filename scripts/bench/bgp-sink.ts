/**
 * Worker role `sink`: the far end of the raw paths. Accepts TCP connections, answers a
 * peer's OPEN with an OPEN (hold time 0) and a KEEPALIVE, then counts and checks every
 * message (bgp-wire.ts's scanner). With `rateBytesPerSec` it reads no faster than that: the
 * socket is paused whenever the bytes read run ahead of the rate, so the kernel's receive
 * window closes and the sender (and everything in between) must hold back — the "slow
 * collector". Each connection ends with a `closed` event carrying its totals and the times
 * of its first UPDATE and last byte.
 */
import { createServer, type Socket } from "node:net";
import { MessageType } from "../../src/bgp/constants.ts";
import { benchOpen, KEEPALIVE, MessageScanner, nowMs, type ScanTotals } from "./bgp-wire.ts";
import { emit, type Fields, serveCommands } from "./worker-channel.ts";

export interface SinkArgs {
  listen: { host: string; port: number }[];
  rateBytesPerSec?: number;
  asn?: number;
  routerId?: string;
}

interface Connection {
  remote: string;
  scanner: MessageScanner;
  firstUpdateAt?: number;
  lastByteAt?: number;
}

export async function runSink(args: SinkArgs): Promise<void> {
  const live = new Set<Connection>();
  const open = benchOpen(args.asn ?? 64512, args.routerId ?? "192.0.2.2", 0);
  const rate = args.rateBytesPerSec;

  const onConnection = (socket: Socket) => {
    socket.setNoDelay(true);
    const conn: Connection = {
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      scanner: new MessageScanner((type) => {
        if (type === MessageType.OPEN) socket.write(Buffer.concat([open, KEEPALIVE]));
      }),
    };
    live.add(conn);
    let paced = 0;
    let pacedSince = 0;
    socket.on("data", (chunk: Buffer) => {
      const now = nowMs();
      const before = conn.scanner.totals.updates;
      conn.scanner.push(chunk);
      conn.lastByteAt = now;
      if (before === 0 && conn.scanner.totals.updates > 0) {
        conn.firstUpdateAt = now;
        pacedSince = now;
      }
      if (rate !== undefined && conn.firstUpdateAt !== undefined) {
        paced += chunk.length;
        const due = pacedSince + (paced / rate) * 1000;
        if (due > now + 1) {
          socket.pause();
          setTimeout(() => socket.resume(), due - now);
        }
      }
    });
    let reported = false;
    const report = (why: string) => {
      if (reported) return;
      reported = true;
      live.delete(conn);
      emit("closed", { why, remote: conn.remote, ...summary(conn) });
    };
    socket.on("end", () => {
      socket.end();
      report("fin");
    });
    socket.on("error", (err) => report(`error: ${err.message}`));
    socket.on("close", () => report("close"));
  };

  for (const { host, port } of args.listen) {
    const server = createServer({ allowHalfOpen: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, backlog: 1024 }, () => resolve());
    });
  }
  serveCommands({
    stats: (): Fields => ({
      connections: [...live].map((c) => ({ remote: c.remote, ...summary(c) })),
    }),
  });
  emit("ready");
}

function summary(conn: Connection): ScanTotals & Fields {
  return {
    ...conn.scanner.totals,
    error: conn.scanner.error,
    pending: conn.scanner.pending,
    firstUpdateAt: conn.firstUpdateAt,
    lastByteAt: conn.lastByteAt,
  };
}
