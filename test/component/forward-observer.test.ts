/**
 * The gateway's observer of forwarded sessions, end to end: a router's OPEN, KEEPALIVE and
 * UPDATEs go through agent and gateway to a BGP daemon; the device shows Established and the
 * exact prefix count. With `observe = false` the same session relays but shows nothing.
 */
import { describe, expect, test } from "bun:test";
import type { Socket } from "node:net";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { establishRouter } from "../support/bgp-router.ts";
import { forwardDevice, startSpeakerDaemon, startStack } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

/** Establish BGP from `local` through the agent and announce `prefixes`. */
async function announce(port: number, local: string, prefixes: string[]): Promise<void> {
  const socket = await establishRouter({ port, local, asn: 65002, routerId: "10.0.0.2" }, (s) =>
    cleanups.push(() => s.destroy()),
  );
  socket.write(encodeUpdate({ origin: 0, asPath: [65002], nextHop: local, nlri: prefixes }));
}

describe("forwarded sessions: the observer", () => {
  test("shows state and exact counts; observe = false relays without them", async () => {
    const daemonPrefixes = new Map<Socket, number>();
    const daemon = await startSpeakerDaemon((socket, speaker) =>
      daemonPrefixes.set(socket, speaker.stats().prefixes.ipv4),
    );
    cleanups.push(() => daemon.server.close());
    const watched = forwardDevice("127.0.0.2", daemon.port, { name: "watched", id: 2 });
    const quiet = forwardDevice("127.0.0.3", daemon.port, { name: "quiet", id: 3 });
    const stack = await startStack({
      devices: [
        watched,
        {
          ...quiet,
          target: {
            kind: "forward",
            forward: { host: "127.0.0.1", port: daemon.port },
            observe: false,
          },
        },
      ],
    });
    cleanups.push(() => stack.close());
    const device = (name: string) =>
      stack.gateway.registry.all().find((d) => d.config.name === name);

    await announce(stack.routerPort, "127.0.0.2", ["198.51.100.0/24", "203.0.113.0/24"]);
    await waitUntil(() => device("watched")?.counters.prefixes.ipv4 === 2, {
      timeoutMs: 5000,
      what: "the watched device's 2 prefixes",
    });
    expect(device("watched")?.established).toBe(true);

    await announce(stack.routerPort, "127.0.0.3", ["192.0.2.0/24"]);
    // The daemon holds all three prefixes: both sessions were relayed.
    await waitUntil(
      () => [...daemonPrefixes.values()].reduce((a, b) => a + b, 0) === 3 || undefined,
      { timeoutMs: 5000, what: "the daemon to hold 3 prefixes" },
    );
    expect(device("quiet")?.sessions).toBe(1);
    expect(device("quiet")?.established).toBe(false);
    expect(device("quiet")?.counters.prefixes).toEqual({ ipv4: 0, ipv6: 0 });
  }, 20_000);
});
