/**
 * The agent's KILL at the gateway, with a forwarded device: the daemon's socket is ended
 * after the bytes still queued for it (a NOTIFICATION the agent relayed just before the
 * KILL reaches the daemon), not reset under them. A bare ProxyService client plays the
 * agent; a TCP server that reads slowly plays the daemon, so that bytes are queued.
 */
import { describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { DataAction } from "../../src/proto/messages.ts";
import { openDataCall, rawGateway } from "../support/raw-gateway.ts";
import { forwardDevice, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

const CHUNK = 64 * 1024;
const CHUNKS = 64; // 4 MiB: more than the daemon's socket buffers and the relay's high-water mark

describe("the agent's KILL at a forwarding gateway", () => {
  test("the daemon gets every byte relayed before it, then a FIN (no reset)", async () => {
    let daemonSocket: Socket | undefined;
    let received = 0;
    const seen = { ended: false, error: "" };
    const daemon = await startDaemon((socket) => {
      daemonSocket = socket;
      socket.pause(); // slow: the gateway's writes queue up
      socket.on("data", (d: Buffer) => {
        received += d.length;
      });
      socket.on("end", () => {
        seen.ended = true;
      });
      socket.on("error", (err: NodeJS.ErrnoException) => {
        seen.error = err.code ?? err.message;
      });
    });
    cleanups.push(() => daemon.server.close());
    const raw = await rawGateway({}, {}, { devices: [forwardDevice("127.0.0.1", daemon.port)] });
    cleanups.push(() => raw.close());
    const { call } = openDataCall(raw.client, randomUUID(), 0, 0);
    const last = Buffer.alloc(CHUNK, 0xee); // the last bytes before the KILL ("a NOTIFICATION")
    for (let i = 0; i < CHUNKS - 1; i++) {
      call.write({ action: DataAction.UNSPECIFIED, data: [Buffer.alloc(CHUNK, i & 0xff)] });
    }
    call.write({ action: DataAction.UNSPECIFIED, data: [last] });
    call.write({ action: DataAction.KILL, data: [] });
    call.end();

    await waitUntil(() => daemonSocket, { timeoutMs: 5_000, what: "the daemon connection" });
    await Bun.sleep(200); // the gateway's writes are queued now (the daemon reads nothing)
    daemonSocket?.resume();
    await waitUntil(() => seen.ended || seen.error !== "", {
      timeoutMs: 10_000,
      what: "the daemon's connection to end",
      diagnostics: () => `received ${received} bytes`,
    });
    expect(seen.error).toBe("");
    expect(seen.ended).toBe(true);
    expect(received).toBe(CHUNK * CHUNKS);
  });
});
