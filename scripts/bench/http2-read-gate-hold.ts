/**
 * How much a gated HTTP/2 server stream lets in once its reader stops (Bun's node:http2,
 * src/relay/http2-read-gate.ts): a client writes 200 MiB as fast as it can; the server
 * stream's reader takes 4 MiB, then pauses for good with an empty buffer and calls
 * `read(0)` (as Node's Readable does after a push or in a resume), which reaches Bun's
 * `_read` and so its native `streamOnResume`, past the gate. Prints what the client could
 * send, what was consumed and buffered, and at which buffer lengths `_read` ran while paused.
 * `bun scripts/bench/http2-read-gate-hold.ts [--ungated]`
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { systemClock } from "../../src/core/clock.ts";
import { SERVER_CONNECTION_WINDOW, SERVER_STREAM_WINDOW } from "../../src/gateway/flow-control.ts";
import { Http2ReadGate } from "../../src/relay/http2-read-gate.ts";

const MiB = 1024 * 1024;
const gated = !process.argv.includes("--ungated");
let sent = 0;
let consumed = 0;
const pausedReads: number[] = [];

const server = http2.createServer();
server.on("session", (session) => {
  // The gateway's windows (raiseFlowControlWindows).
  session.setLocalWindowSize(SERVER_CONNECTION_WINDOW);
  session.settings({ initialWindowSize: SERVER_STREAM_WINDOW });
});
server.on("stream", (stream) => {
  if (gated && Http2ReadGate.install(stream, systemClock) === undefined)
    throw new Error("not gated");
  const raw = stream as unknown as { _read: (n: number) => void };
  const read = raw._read;
  let stopped = false;
  raw._read = function (n: number) {
    if (stopped) pausedReads.push(stream.readableLength);
    read.call(this, n);
  };
  stream.on("data", (chunk: Buffer) => {
    consumed += chunk.length;
    if (!stopped && consumed > 4 * MiB && stream.readableLength === 0) {
      stopped = true;
      stream.pause();
      stream.read(0);
    }
  });
  setTimeout(() => {
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    console.log(
      `${gated ? "gated" : "ungated"}: sent ${kib(sent)}, consumed ${kib(consumed)}, buffered ${kib(stream.readableLength)}; _read while paused at buffer lengths [${pausedReads.join(", ")}]`,
    );
    process.exit(0);
  }, 2000);
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  const request = http2.connect(`http://127.0.0.1:${port}`).request({ ":method": "POST" });
  const block = Buffer.alloc(64 * 1024);
  const pump = () => {
    while (sent < 200 * MiB) {
      sent += block.length;
      if (!request.write(block)) {
        request.once("drain", pump);
        return;
      }
    }
  };
  pump();
});
