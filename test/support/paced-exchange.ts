/**
 * A router and a daemon exchanging checksummed, paced byte streams through the relay
 * (byte-digest.ts): each side reads everything the other sent and sends its own
 * pseudo-random bytes, so that a test compares digests and byte counts at both ends.
 */
import { connect, type Server, type Socket } from "node:net";
import { receiveAll, sendPaced } from "./byte-digest.ts";
import { startDaemon } from "./stack.ts";

/** One end of the exchange. */
export interface PacedSide {
  readonly socket: Socket;
  /** The SHA-256 of every byte received, and how many, once the peer ended. */
  readonly received: Promise<{ digest: string; bytes: number }>;
  /** The SHA-256 of what this side sent, once it ended its socket. */
  readonly sent: Promise<string>;
  /** True until this side sent everything and ended its socket. */
  readonly sending: boolean;
}

/** Read all of `socket` and send `total` paced bytes from `seed`; end after `endAfter`. */
export function pacedSide(
  socket: Socket,
  seed: number,
  total: number,
  endAfter?: (received: Promise<unknown>) => Promise<unknown>,
): PacedSide {
  const received = receiveAll(socket);
  let sending = true;
  const sent = sendPaced(socket, seed, total, endAfter?.(received)).finally(() => {
    sending = false;
  });
  return {
    socket,
    received,
    sent,
    get sending() {
      return sending;
    },
  };
}

/** A router connected (half-open allowed) to the agent's listener at `port` on loopback. */
export async function pacedRouter(port: number, seed: number, total: number): Promise<PacedSide> {
  const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return pacedSide(socket, seed, total);
}

/**
 * A daemon that answers every connection with `total` paced bytes from `seed`, closing only
 * after the router did (like a BGP daemon: gRPC cannot carry a server-side half-close while
 * the agent still sends). `connections` counts them; `side` is the latest one's end.
 */
export async function startPacedDaemon(
  seed: number,
  total: number,
): Promise<{ server: Server; port: number; connections(): number; side(): PacedSide }> {
  let connections = 0;
  let side: PacedSide | undefined;
  const daemon = await startDaemon((socket) => {
    connections++;
    side = pacedSide(socket, seed, total, (received) => received);
  });
  return {
    ...daemon,
    connections: () => connections,
    side: () => {
      if (!side) throw new Error("no connection reached the daemon");
      return side;
    },
  };
}
