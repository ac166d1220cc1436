/**
 * Worker role `ping`: measures the round trip of a KEEPALIVE through a path. Each `run`
 * connects, does the BGP handshake with the echo at the far end (keepalive-echo.ts), waits
 * for the echo of its handshake KEEPALIVE, then sends `count` KEEPALIVEs one at a time,
 * `intervalMs` apart, timing each until its echo arrives. Replies with the samples in µs.
 */
import { MessageType } from "../../src/bgp/constants.ts";
import { dial, handshake } from "./bgp-client.ts";
import { benchOpen, KEEPALIVE, MessageScanner } from "./bgp-wire.ts";
import { emit, type Fields, need, serveCommands } from "./worker-channel.ts";

export async function runPing(): Promise<void> {
  const open = benchOpen(65001, "10.255.0.2", 0);

  const run = async (command: Fields): Promise<Fields> => {
    const host = need(command.host as string | undefined, "host");
    const port = need(command.port as number | undefined, "port");
    const count = need(command.count as number | undefined, "count");
    const intervalMs = (command.intervalMs as number | undefined) ?? 2;
    const socket = await dial(host, port, command.localAddress as string | undefined);
    try {
      let waiting: (() => void) | undefined;
      let early = 0;
      const scanner = new MessageScanner((type) => {
        if (type !== MessageType.KEEPALIVE) return;
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w();
        } else early++;
      });
      await handshake(socket, open);
      socket.on("data", (chunk: Buffer) => scanner.push(chunk));
      const echo = (timeoutMs: number) =>
        new Promise<void>((resolve, reject) => {
          if (early > 0) {
            early--;
            resolve();
            return;
          }
          const timer = setTimeout(() => reject(new Error("no echo within 5 s")), timeoutMs);
          waiting = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      await echo(5_000); // the echo of the handshake's KEEPALIVE
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        socket.write(KEEPALIVE);
        await echo(5_000);
        samples.push(Math.round((performance.now() - t0) * 1000));
        if (intervalMs > 0) await Bun.sleep(intervalMs);
      }
      return { samples };
    } finally {
      socket.end();
      setTimeout(() => socket.destroy(), 2_000).unref();
    }
  };

  serveCommands({ run });
  emit("ready");
}
