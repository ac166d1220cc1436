/**
 * Worker roles of the Adj-RIB-In scenario (scenario-rib.ts):
 *
 * - `ribfeed` (in R): encodes the table (full-table.ts → update-stream.ts) once; each `feed`
 *   dials a far end with an OPEN that has 4-octet AS (the paths are 4-octet), writes every
 *   UPDATE and both End-of-RIBs, and keeps the session open (hold time 0) until `close`.
 * - `rib` (in C): bgproxy's collector speaker with an Adj-RIB-In (src/collector/) on a TCP
 *   port. `stats` reports the RIB's size and the process's memory after a full GC;
 *   `lookups` times in-process longest-prefix matches on random addresses; `api` serves
 *   the gateway's route API over the RIB on loopback and times /api/lookup requests, the
 *   MRT snapshot, and the table as BMP Route Monitoring messages (a station's resync).
 */
import { createServer, type Socket } from "node:net";
import { Afi, Safi } from "../../src/bgp/constants.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import { encodeEndOfRib } from "../../src/bgp/update-encoder.ts";
import { encodeRouteMonitoring } from "../../src/bmp/bmp-message.ts";
import { ribAsUpdates } from "../../src/bmp/rib-updates.ts";
import { AdjRibIn } from "../../src/collector/adj-rib-in.ts";
import { BgpSpeaker } from "../../src/collector/bgp-speaker.ts";
import { RibDirectory } from "../../src/collector/rib-directory.ts";
import { systemClock } from "../../src/core/clock.ts";
import { startHttpApi } from "../../src/gateway/http-api.ts";
import { routeApi } from "../../src/gateway/route-api.ts";
import { dial, drained, handshake } from "./bgp-client.ts";
import { nowMs } from "./bgp-wire.ts";
import { percentile } from "./figures.ts";
import { generateTable, type TableSpec } from "./full-table.ts";
import { encodeUpdateBlock } from "./update-stream.ts";
import { emit, type Fields, need, serveCommands } from "./worker-channel.ts";

export interface RibFeedArgs {
  table: TableSpec;
  routerAsn: number;
  nextHop4: string;
  nextHop6: string;
}

const SLICE = 256 * 1024;

export async function runRibFeed(args: RibFeedArgs): Promise<void> {
  const block = encodeUpdateBlock(generateTable(args.table), args);
  const eor = Buffer.concat([encodeEndOfRib(), encodeEndOfRib(Afi.IPV6)]);
  const open = Buffer.from(
    encodeOpen({
      asn: args.routerAsn,
      holdTime: 0,
      routerId: "10.255.0.1",
      capabilities: {
        multiprotocol: [
          { afi: Afi.IPV4, safi: Safi.UNICAST },
          { afi: Afi.IPV6, safi: Safi.UNICAST },
        ],
        fourOctetAs: true,
      },
    }),
  );
  const sessions = new Map<string, Socket>();
  serveCommands({
    feed: async (command: Fields) => {
      const host = need(command.host as string | undefined, "host");
      const port = need(command.port as number | undefined, "port");
      const socket = await dial(host, port, command.localAddress as string | undefined);
      socket.on("error", () => {});
      await handshake(socket, open);
      const t0 = nowMs();
      for (let at = 0; at < block.bytes.length; at += SLICE) {
        if (!socket.write(block.bytes.subarray(at, at + SLICE))) await drained(socket);
      }
      socket.write(eor);
      sessions.set(`${host}:${port}`, socket);
      return { messages: block.messages, prefixes: block.prefixes, writtenMs: nowMs() - t0 };
    },
    close: (command: Fields) => {
      const key = `${command.host}:${command.port}`;
      sessions.get(key)?.destroy();
      sessions.delete(key);
      return {};
    },
  });
  emit("ready", { messages: block.messages, prefixes: block.prefixes });
}

function memory(): Fields {
  Bun.gc(true);
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/** Random unicast IPv4 addresses (1.0.0.0-223.255.255.255) from a fixed seed. */
function randomAddresses(n: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = 0x01000000 + ((x >>> 0) % (223 * 0x1000000));
  }
  return out;
}

export async function runRibHolder(args: { listen: { host: string; port: number } }) {
  const base = memory();
  const ribs = new RibDirectory();
  let rib: AdjRibIn | undefined;
  const server = createServer((socket) => {
    socket.on("error", () => {});
    const mine = new AdjRibIn();
    rib = mine;
    const speaker = new BgpSpeaker({
      localAsn: 64512,
      routerId: "10.255.0.2",
      holdTime: 0,
      clock: systemClock,
      rib: mine,
      onSend: (bytes) => socket.write(bytes),
      onClose: () => socket.end(),
    });
    ribs.attach({
      device: "bench",
      address: socket.remoteAddress ?? "0.0.0.0",
      rib: mine,
      peer: () => undefined,
    });
    socket.on("data", (d: Buffer) => speaker.receive(d));
    socket.on("close", () => speaker.close("connection closed"));
  });
  await new Promise<void>((resolve) => server.listen(args.listen.port, args.listen.host, resolve));

  const held = () => need(rib, "a session");
  serveCommands({
    stats: async (command: Fields) => {
      const r = held();
      // Let the allocator hand back what the load freed before reading (both far ends get
      // the same few seconds: BIRD is read after this).
      if (command.settleMs) {
        Bun.gc(true);
        await Bun.sleep(Number(command.settleMs));
      }
      return {
        ipv4: r.v4.size,
        ipv6: r.v6.size,
        attributeSets: r.attributes.size,
        ribBytes: r.bytes,
        endOfRib: r.endOfRib.ipv4 && r.endOfRib.ipv6,
        base,
        now: memory(),
      };
    },
    lookups: (command: Fields) => {
      const r = held();
      const n = Number(command.n ?? 2_000_000);
      const addrs = randomAddresses(n);
      const map = r.v4;
      let hits = 0;
      // Warm up, then time.
      for (let i = 0; i < Math.min(n, 100_000); i++) {
        map.key[0] = addrs[i] as number;
        if (map.longestMatch() >= 0) hits++;
      }
      hits = 0;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        map.key[0] = addrs[i] as number;
        if (map.longestMatch() >= 0) hits++;
      }
      const seconds = (performance.now() - t0) / 1000;
      return { lookups: n, hits, seconds, perSecond: n / seconds };
    },
    api: async (command: Fields) => {
      const n = Number(command.n ?? 2000);
      const api = routeApi({ ribs, collectorId: "10.255.0.2", version: "bench", now: Date.now });
      const http = startHttpApi({ host: "127.0.0.1", port: 0 }, api.routes, { match: api.match });
      try {
        const addrs = randomAddresses(n);
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const a = addrs[i] as number;
          const ip = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
          const t0 = performance.now();
          const res = await fetch(`http://127.0.0.1:${http.port}/api/lookup?ip=${ip}`);
          await res.json();
          times.push(performance.now() - t0);
        }
        const t1 = performance.now();
        const snapshot = await fetch(`http://127.0.0.1:${http.port}/api/devices/bench/mrt`);
        const mrtBytes = (await snapshot.arrayBuffer()).byteLength;
        const mrtMs = performance.now() - t1;
        // What a BMP station's (re)connect costs: the table as Route Monitoring messages.
        const t2 = performance.now();
        let bmpBytes = 0;
        let bmpMessages = 0;
        const peer = {
          address: "10.255.0.1",
          asn: 65001,
          routerId: "10.255.0.1",
          legacyAsPath: false,
        };
        ribAsUpdates(held(), (u) => {
          bmpBytes += encodeRouteMonitoring(peer, 0, u).length;
          bmpMessages++;
        });
        const bmpMs = performance.now() - t2;
        return {
          bmpBytes,
          bmpMessages,
          bmpMs,
          requests: n,
          p50Ms: percentile(times, 50),
          p99Ms: percentile(times, 99),
          mrtBytes,
          mrtMs,
        };
      } finally {
        http.close();
      }
    },
  });
  emit("ready", base);
}
