import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { prng } from "./prng.ts";

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

/**
 * Sends `total` paced pseudo-random bytes (so that a transfer spans the faults a test
 * injects), position-dependent (reordering changes the digest); ends the socket after
 * `endAfter`. Resolves to the SHA-256 of what was sent.
 */
export async function sendPaced(
  socket: Socket,
  seed: number,
  total: number,
  endAfter?: Promise<unknown>,
): Promise<string> {
  const rand = prng(seed);
  const hash = createHash("sha256");
  let sent = 0;
  while (sent < total) {
    const size = Math.min(total - sent, 1 + Math.floor(rand() * 32 * 1024));
    const chunk = Buffer.alloc(size);
    for (let i = 0; i < size; i += 997) chunk[i] = Math.floor(rand() * 256);
    chunk[0] = sent & 0xff;
    hash.update(chunk);
    sent += size;
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
    await Bun.sleep(4);
  }
  await endAfter;
  socket.end();
  return hash.digest("hex");
}
