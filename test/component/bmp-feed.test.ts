/**
 * The BMP feed over real TCP: a station (a TCP server here, parsing BMP framing) receives
 * Initiation, Peer Up and Route Monitoring; when the connection drops the feed redials on
 * its own and replays the current RIB; a station that stops reading is cut off once more
 * than the buffer bound waits, then re-synchronised. Through a live gateway: a collector
 * session (the speaker) and a forwarded one (the observer, with a BGP speaker as daemon)
 * both reach the station.
 */
import { describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { encodeOpen } from "../../src/bgp/open.ts";
import { decodeUpdate, updatePrefixes } from "../../src/bgp/update.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { BmpFeed } from "../../src/bmp/bmp-feed.ts";
import { BmpType } from "../../src/bmp/bmp-message.ts";
import { AdjRibIn } from "../../src/collector/adj-rib-in.ts";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { DUAL_STACK_CAPS, establishRouter } from "../support/bgp-router.ts";
import { forwardDevice, startSpeakerDaemon, startStack } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface BmpMsg {
  type: number;
  body: Uint8Array;
}

/** A BMP station: every connection's messages, in order. */
async function startStation(): Promise<{
  port: number;
  connections: { socket: Socket; messages: BmpMsg[] }[];
}> {
  const connections: { socket: Socket; messages: BmpMsg[] }[] = [];
  const server: Server = createServer((socket) => {
    const conn = { socket, messages: [] as BmpMsg[] };
    connections.push(conn);
    let buf = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 6 && buf.length >= buf.readUInt32BE(1)) {
        const len = buf.readUInt32BE(1);
        expect(buf[0]).toBe(3);
        conn.messages.push({ type: buf[5] as number, body: new Uint8Array(buf.subarray(6, len)) });
        buf = buf.subarray(len);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const c of connections) c.socket.destroy();
    server.close();
  });
  const a = server.address();
  return { port: typeof a === "object" && a ? a.port : 0, connections };
}

/** Prefixes in the Route Monitoring messages of a connection (UPDATE after the per-peer header). */
function monitored(messages: readonly BmpMsg[]): string[] {
  return messages
    .filter((m) => m.type === BmpType.ROUTE_MONITORING)
    .flatMap(
      (m) =>
        updatePrefixes(decodeUpdate(m.body.subarray(42 + 19), { fourOctetAs: true })).announced,
    );
}

const caps = { ...DUAL_STACK_CAPS, fourOctetAs: true };

function announce(rib: AdjRibIn, m: ReturnType<BmpFeed["session"]>, nlri: string[]) {
  const u = encodeUpdate({ origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri });
  const d = decodeUpdate(u.subarray(19), { fourOctetAs: true });
  rib.apply(d);
  m.update(u, d);
}

/** A feed to one station on 127.0.0.1:`port`, started; stopped after the test. */
function startFeed(port: number, bufferBytes: number, initialMs: number, maxMs: number): BmpFeed {
  const feed = new BmpFeed({
    stations: [{ address: { host: "127.0.0.1", port }, bufferBytes }],
    sysName: "gw",
    sysDescr: "test",
    clock: systemClock,
    logger: silentLogger,
    backoff: { initialMs, maxMs, multiplier: 2, jitter: 0 },
  });
  cleanups.push(() => feed.stop());
  feed.start();
  return feed;
}

/** Session "r1" (AS 65001, 10.0.0.1 -> 10.0.0.2:179) on `feed`, announced up. */
function sessionUp(feed: BmpFeed, rib: AdjRibIn): ReturnType<BmpFeed["session"]> {
  const m = feed.session({
    device: "r1",
    peerAddress: "10.0.0.1",
    peerPort: 50000,
    localAddress: "10.0.0.2",
    localPort: 179,
    rib,
  });
  m.up({
    receivedOpen: encodeOpen({
      asn: 65001,
      holdTime: 90,
      routerId: "10.0.0.1",
      capabilities: caps,
    }),
    sentOpen: encodeOpen({ asn: 64512, holdTime: 90, routerId: "192.0.2.1", capabilities: caps }),
    fourOctetAs: true,
  });
  return m;
}

describe("BMP feed", () => {
  test("live messages, then redial and RIB replay after the station drops the connection", async () => {
    const station = await startStation();
    const feed = startFeed(station.port, 1 << 20, 1000, 1000);
    await waitUntil(() => station.connections.length === 1, {
      timeoutMs: 5000,
      what: "first connection",
    });
    const rib = new AdjRibIn();
    const m = sessionUp(feed, rib);
    announce(rib, m, ["198.51.100.0/24"]);
    const first = station.connections[0] as { socket: Socket; messages: BmpMsg[] };
    await waitUntil(() => first.messages.length === 3, { timeoutMs: 5000, what: "3 messages" });
    expect(first.messages.map((x) => x.type)).toEqual([
      BmpType.INITIATION,
      BmpType.PEER_UP,
      BmpType.ROUTE_MONITORING,
    ]);
    expect(monitored(first.messages)).toEqual(["198.51.100.0/24"]);

    first.socket.destroy();
    await waitUntil(() => feed.stations[0]?.status === "waiting", {
      timeoutMs: 5000,
      what: "station waiting",
    });
    announce(rib, m, ["203.0.113.0/24"]); // while down: dropped, but in the RIB
    await waitUntil(
      () =>
        station.connections.length === 2 &&
        monitored(station.connections[1]?.messages ?? []).length === 2,
      {
        timeoutMs: 5000,
        what: "second connection with the RIB replayed",
      },
    );
    const second = station.connections[1] as { messages: BmpMsg[] };
    expect(second.messages[0]?.type).toBe(BmpType.INITIATION);
    expect(second.messages[1]?.type).toBe(BmpType.PEER_UP);
    expect(monitored(second.messages).sort()).toEqual(["198.51.100.0/24", "203.0.113.0/24"]);
    expect(feed.stations[0]?.dropped).toBe(1);
    m.down({ local: false });
    await waitUntil(() => second.messages.at(-1)?.type === BmpType.PEER_DOWN, {
      timeoutMs: 5000,
      what: "Peer Down",
    });
  });

  test("a station that stops reading is cut off at the buffer bound and re-synchronised", async () => {
    const station = await startStation();
    const feed = startFeed(station.port, 65536, 50, 200);
    await waitUntil(() => station.connections.length === 1, {
      timeoutMs: 5000,
      what: "first connection",
    });
    (station.connections[0] as { socket: Socket }).socket.pause();
    const rib = new AdjRibIn();
    const m = sessionUp(feed, rib);
    const station0 = feed.stations[0];
    for (let i = 0; i < 200_000 && station0?.connects === 1 && station0.status === "up"; i++) {
      announce(rib, m, [`10.${(i >> 8) & 255}.${i & 255}.0/24`]);
      if (i % 1000 === 999) await Bun.sleep(1);
    }
    expect(station0?.status).not.toBe("up");
    await waitUntil(() => station.connections.length === 2, { timeoutMs: 5000, what: "reconnect" });
    const second = station.connections[1] as { messages: BmpMsg[] };
    await waitUntil(() => monitored(second.messages).length === rib.counts.ipv4, {
      timeoutMs: 10_000,
      what: `the whole RIB (${rib.counts.ipv4} routes) replayed`,
    });
  }, 30_000);

  test("through the gateway: a collector session and a forwarded one (observer) reach the station", async () => {
    const station = await startStation();
    // The forwarded device's daemon: a passive BGP speaker.
    const daemon = await startSpeakerDaemon();
    cleanups.push(() => daemon.server.close());
    const stack = await startStack({
      collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
      devices: [
        { name: "edge-r1", id: 1, site: 0, ip: "127.0.0.1", target: { kind: "collector" } },
        forwardDevice("127.0.0.2", daemon.port, { name: "edge-r2", id: 2 }),
      ],
      bmp: [{ address: { host: "127.0.0.1", port: station.port }, bufferBytes: 1 << 20 }],
    });
    cleanups.push(() => stack.close());
    const routers: Socket[] = [];
    cleanups.push(() => {
      for (const r of routers) r.destroy();
    });
    for (const [local, asn, prefix] of [
      ["127.0.0.1", 65001, "198.51.100.0/24"],
      ["127.0.0.2", 65002, "203.0.113.0/24"],
    ] as const) {
      const routerId = local === "127.0.0.1" ? "10.0.0.1" : "10.0.0.2";
      const socket = await establishRouter(
        { port: stack.routerPort, local, asn, routerId },
        (s) => routers.push(s),
        caps,
      );
      socket.write(encodeUpdate({ origin: 0, asPath: [asn], nextHop: local, nlri: [prefix] }));
    }
    await waitUntil(
      () =>
        station.connections[0] ? monitored(station.connections[0].messages).length === 2 : false,
      { timeoutMs: 8000, what: "both routers' prefixes at the station" },
    );
    const messages = (station.connections[0] as { messages: BmpMsg[] }).messages;
    expect(monitored(messages).sort()).toEqual(["198.51.100.0/24", "203.0.113.0/24"]);
    const ups = messages.filter((x) => x.type === BmpType.PEER_UP);
    expect(ups.length).toBe(2);
    // Per-peer header: peer AS at offset 26; the forwarded peer's Peer Up carries the daemon's OPEN (AS 64600).
    const asns = ups
      .map((u) => new DataView(u.body.buffer, u.body.byteOffset).getUint32(26))
      .sort();
    expect(asns).toEqual([65001, 65002]);
    const forwarded = ups.find(
      (u) => new DataView(u.body.buffer, u.body.byteOffset).getUint32(26) === 65002,
    ) as BmpMsg;
    const sentOpen = forwarded.body.subarray(42 + 20);
    expect(new DataView(sentOpen.buffer, sentOpen.byteOffset).getUint16(20)).toBe(64600);
  }, 30_000);
});
