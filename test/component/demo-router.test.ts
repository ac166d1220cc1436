/**
 * The demo router against a real TCP listener holding the project's passive BGP speaker:
 * it brings the session up, its table arrives, churn rounds move the counts, and when the
 * far end drops the connection it comes back by itself after its pause.
 */
import { describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { BgpSpeaker } from "../../src/collector/bgp-speaker.ts";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { DemoRouter } from "../../src/demo/demo-router.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface Collector {
  port: number;
  speakers: BgpSpeaker[];
  sockets: Socket[];
  /** How each session ended, as the speaker saw it. */
  closes: string[];
}

async function collector(): Promise<Collector> {
  const c: Collector = { port: 0, speakers: [], sockets: [], closes: [] };
  const server: Server = createServer((socket) => {
    const speaker = new BgpSpeaker({
      localAsn: 64512,
      routerId: "192.0.2.1",
      clock: systemClock,
      onSend: (bytes) => socket.write(bytes),
      onClose: (reason) => {
        c.closes.push(`${reason.kind}: ${reason.message}`);
        socket.end();
      },
    });
    socket.on("data", (d: Buffer) => speaker.receive(new Uint8Array(d)));
    socket.on("error", () => {});
    c.speakers.push(speaker);
    c.sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  c.port = typeof address === "object" && address ? address.port : 0;
  cleanups.push(() => {
    for (const s of c.sockets) s.destroy();
    server.close();
  });
  return c;
}

describe("demo router", () => {
  test("table, churn, and a reconnect after the far end drops it", async () => {
    const c = await collector();
    const router = new DemoRouter(
      {
        target: { host: "127.0.0.1", port: c.port },
        source: "127.0.0.2",
        table: { ipv4: 300, ipv6: 40, churnSlice: 20 },
        churnMs: 100,
        retryMs: 200,
      },
      silentLogger,
    );
    cleanups.push(() => router.close());
    router.start();
    const first = () => c.speakers[0]?.stats();
    await waitUntil(() => first()?.prefixes.ipv4 === 300 && first()?.prefixes.ipv6 === 40, {
      timeoutMs: 5_000,
      what: "the demo table at the speaker",
    });
    expect(router.state).toBe("established");
    expect(c.sockets[0]?.remoteAddress).toBe("127.0.0.2");
    await waitUntil(() => first()?.prefixes.ipv4 === 280, {
      timeoutMs: 5_000,
      what: "a churn round (one slice of 20 withdrawn)",
    });
    expect(first()?.prefixes.ipv6).toBe(20);

    // The far end drops the connection: the router goes idle and comes back by itself.
    c.sockets[0]?.destroy();
    await waitUntil(() => c.speakers[1]?.stats().prefixes.ipv4 === 300, {
      timeoutMs: 5_000,
      what: "the table again on a new session",
    });
    expect(router.state).toBe("established");

    // close() ends the session with a Cease and stops for good.
    router.close();
    await waitUntil(() => c.speakers[1]?.state === "Idle", {
      timeoutMs: 5_000,
      what: "the speaker to see the Cease",
    });
    expect(c.closes.at(-1)).toMatch(/^notification-received: .*Cease\/Administrative Shutdown/);
    await Bun.sleep(400);
    expect(c.speakers).toHaveLength(2);
    expect(router.state).toBe("closed");
  }, 20_000);
});
