/**
 * A scripted BGP router for component tests of bridging: it connects to the agent, sends
 * its OPEN (AS 65001, IPv4 unicast, route refresh unless told otherwise), answers the
 * far end's OPEN with a KEEPALIVE and its table, sends the table again on every
 * ROUTE-REFRESH, and with `keepalives` sends a KEEPALIVE every hold/3 itself. Every message
 * it gets is kept with its arrival time, so a test can check the router's hold timer would
 * never have expired. The caller destroys `socket` when done.
 */
import { connect, type Socket } from "node:net";
import { Afi, MessageType, Safi } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import type { DeviceConfig } from "../../src/config/types.ts";
import type { RunningGateway } from "../../src/gateway/gateway.ts";
import { waitUntil } from "./wait.ts";

/** The device a scripted router on loopback is, relayed to the built-in collector. */
export const LOOPBACK_DEVICE: DeviceConfig = {
  name: "r1",
  id: 1,
  site: 0,
  ip: "127.0.0.1",
  target: { kind: "collector" },
};

/** IPv4 prefixes the gateway's collector holds for its first device. */
export const collectorPrefixes = (g: RunningGateway): number =>
  g.registry.all()[0]?.counters.prefixes.ipv4 ?? 0;

export interface ScriptedRouterOptions {
  routeRefresh?: boolean;
  /** Offered hold time, seconds (default 90). */
  holdTime?: number;
  /** Send a KEEPALIVE every hold/3 once the far end's OPEN is in. */
  keepalives?: boolean;
}

export class ScriptedRouter {
  readonly socket: Socket;
  readonly received: { type: number; body: Uint8Array; at: number }[] = [];
  readonly closed: Promise<void>;
  prefixes: string[];
  private timer?: ReturnType<typeof setInterval>;

  constructor(port: number, prefixes: string[], options: ScriptedRouterOptions = {}) {
    const holdTime = options.holdTime ?? 90;
    this.prefixes = prefixes;
    this.socket = connect({ host: "127.0.0.1", port });
    this.socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      this.socket.once("close", () => {
        clearInterval(this.timer);
        resolve();
      }),
    );
    const framer = new BgpFramer();
    this.socket.once("connect", () =>
      this.socket.write(
        encodeOpen({
          asn: 65001,
          holdTime,
          routerId: "10.0.0.1",
          capabilities: {
            multiprotocol: [{ afi: Afi.IPV4, safi: Safi.UNICAST }],
            routeRefresh: options.routeRefresh ?? true,
          },
        }),
      ),
    );
    this.socket.on("data", (d: Buffer) => {
      for (const f of framer.push(new Uint8Array(d))) {
        this.received.push({ type: f.type, body: f.body.slice(), at: Date.now() });
        if (f.type === MessageType.OPEN) {
          this.socket.write(encodeKeepalive());
          this.announce();
          if (options.keepalives) {
            this.timer = setInterval(
              () => this.socket.write(encodeKeepalive()),
              (holdTime * 1000) / 3,
            );
          }
        }
        if (f.type === MessageType.ROUTE_REFRESH) this.announce();
      }
    });
  }

  announce(): void {
    this.socket.write(
      encodeUpdate({ origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri: this.prefixes }),
    );
  }

  count(type: number): number {
    return this.received.filter((m) => m.type === type).length;
  }

  /** The longest time between two messages received from `from` (ms since the epoch) to now. */
  longestSilenceSince(from: number): number {
    let last = from;
    let longest = 0;
    for (const m of this.received) {
      if (m.at < from) continue;
      longest = Math.max(longest, m.at - last);
      last = m.at;
    }
    return Math.max(longest, Date.now() - last);
  }

  destroy(): void {
    clearInterval(this.timer);
    this.socket.destroy();
  }
}

/**
 * Bridging onto a new collector session: the router gets one ROUTE-REFRESH and the
 * gateway's (new) collector session is Established with the router's `prefixes`.
 */
export async function waitForRefreshedTable(
  router: ScriptedRouter,
  gateway: RunningGateway,
  prefixes: number,
): Promise<void> {
  await waitUntil(() => router.count(MessageType.ROUTE_REFRESH) === 1, {
    timeoutMs: 10_000,
    what: "bridging onto a new collector session and a ROUTE-REFRESH",
  });
  await waitUntil(
    () => gateway.registry.all()[0]?.established && collectorPrefixes(gateway) === prefixes,
    { timeoutMs: 5_000, what: `the new collector session Established with ${prefixes} prefixes` },
  );
}
