import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import { receiveAll } from "../support/byte-digest.ts";
import { forwardDevice, prng, type Stack, startDaemon, startStack } from "../support/stack.ts";
import { waitUntil } from "../support/wait.ts";

const TOTAL = Number(process.env.RELAY_TEST_BYTES ?? 64 * 1024 * 1024);

/** Writes `total` pseudo-random bytes in random chunk sizes (1 B .. 96 KiB), honouring backpressure. */
async function sendRandom(
  socket: Socket,
  total: number,
  seed: number,
  endAfter: Promise<unknown> = Promise.resolve(),
): Promise<string> {
  const rand = prng(seed);
  const hash = createHash("sha256");
  let sent = 0;
  const block = Buffer.alloc(96 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(rand() * 256);
  while (sent < total) {
    const size = Math.min(total - sent, 1 + Math.floor(rand() * block.length));
    const offset = Math.floor(rand() * (block.length - size + 1));
    const chunk = Buffer.from(block.subarray(offset, offset + size));
    chunk[0] = (sent & 0xff) ^ (chunk[0] ?? 0); // position-dependent, so reordering changes the hash
    hash.update(chunk);
    sent += size;
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
  }
  await endAfter;
  socket.end();
  return hash.digest("hex");
}

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe("relay through agent and gateway", () => {
  test("64 MiB in random chunk sizes arrive intact and in order both ways", async () => {
    let atDaemonConnection!: (v: {
      received: Promise<{ digest: string; bytes: number }>;
      sent: Promise<string>;
    }) => void;
    const daemonConnection = new Promise<{
      received: Promise<{ digest: string; bytes: number }>;
      sent: Promise<string>;
    }>((r) => {
      atDaemonConnection = r;
    });
    const daemon = await startDaemon((socket) => {
      // Like a BGP daemon, it closes only after the router did: gRPC cannot carry a
      // server-side half-close while the agent is still sending.
      const received = receiveAll(socket);
      atDaemonConnection({ received, sent: sendRandom(socket, TOTAL, 2, received) });
    });
    stack = await startStack({ devices: [forwardDevice("127.0.0.1", daemon.port)] });
    const router = connect({ host: "127.0.0.1", port: stack.routerPort, allowHalfOpen: true });
    await new Promise((r) => router.once("connect", r));
    const routerGot = receiveAll(router);
    const routerSentDigest = await sendRandom(router, TOTAL, 1);

    const daemonSide = await daemonConnection;
    const atDaemon = await daemonSide.received;
    const atRouter = await routerGot;
    expect(atDaemon.bytes).toBe(TOTAL);
    expect(atDaemon.digest).toBe(routerSentDigest);
    expect(atRouter.bytes).toBe(TOTAL);
    expect(atRouter.digest).toBe(await daemonSide.sent);
    router.destroy();
    daemon.server.close();
    // The session ends on both sides once both directions are closed.
    await waitUntil(() => stack?.agent.status().sessions.length === 0, {
      timeoutMs: 5_000,
      what: "the agent's session to end",
    });
  }, 120_000);
});
