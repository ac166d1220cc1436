/**
 * A TCP relay on loopback standing in for the WAN between agent and gateway: `cut()`
 * resets every connection through it (a lost link), `pause()` holds the bytes of both
 * directions while the connections stay open (a blip: nothing arrives, nothing is
 * refused), and `resume()` lets them through in order. `refuse(true)` resets every new
 * connection at once (the far side unreachable, fast) until `refuse(false)`.
 */
import { connect, createServer, type Socket } from "node:net";

export interface TcpLink {
  readonly port: number;
  cut(): void;
  pause(): void;
  resume(): void;
  refuse(on: boolean): void;
  close(): void;
}

export async function tcpLink(targetPort: number): Promise<TcpLink> {
  const sockets = new Set<Socket>();
  let paused = false;
  let refusing = false;
  const held: [Socket, Buffer][] = [];
  const forward = (from: Socket, to: Socket) => {
    from.on("data", (d: Buffer) => {
      if (paused) held.push([to, d]);
      else to.write(d);
    });
    from.on("end", () => to.end());
    from.on("close", () => to.destroy());
  };
  const server = createServer((a) => {
    if (refusing) {
      a.on("error", () => {});
      a.resetAndDestroy();
      return;
    }
    const b = connect({ host: "127.0.0.1", port: targetPort });
    for (const s of [a, b]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    forward(a, b);
    forward(b, a);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      for (const [to, d] of held.splice(0)) if (!to.destroyed) to.write(d);
    },
    refuse: (on) => {
      refusing = on;
    },
    close: () => server.close(),
  };
}
