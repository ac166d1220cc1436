/**
 * Worker role `echo`: the far end of the latency scenario. Answers a peer's OPEN with an
 * OPEN (hold time 0) and a KEEPALIVE, then sends one KEEPALIVE back for every KEEPALIVE it
 * receives, at once (TCP_NODELAY).
 */
import { createServer, type Socket } from "node:net";
import { MessageType } from "../../src/bgp/constants.ts";
import { benchOpen, KEEPALIVE, MessageScanner } from "./bgp-wire.ts";
import { emit, serveCommands } from "./worker-channel.ts";

export interface EchoArgs {
  listen: { host: string; port: number }[];
}

export async function runEcho(args: EchoArgs): Promise<void> {
  const open = benchOpen(64512, "192.0.2.3", 0);
  const onConnection = (socket: Socket) => {
    socket.setNoDelay(true);
    const scanner = new MessageScanner((type) => {
      if (type === MessageType.OPEN) socket.write(Buffer.concat([open, KEEPALIVE]));
      else if (type === MessageType.KEEPALIVE) socket.write(KEEPALIVE);
    });
    socket.on("data", (chunk: Buffer) => scanner.push(chunk));
    socket.on("end", () => socket.end());
    socket.on("error", () => socket.destroy());
  };
  for (const { host, port } of args.listen) {
    const server = createServer({ allowHalfOpen: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => resolve());
    });
  }
  serveCommands({});
  emit("ready");
}
