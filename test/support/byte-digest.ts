import { createHash } from "node:crypto";
import type { Socket } from "node:net";

/** Reads a socket to its end: the SHA-256 of every byte received, and how many there were. */
export function receiveAll(socket: Socket): Promise<{ digest: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  return new Promise((resolve, reject) => {
    socket.on("data", (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    socket.on("end", () => resolve({ digest: hash.digest("hex"), bytes }));
    socket.on("error", reject);
  });
}
