/**
 * Worker role `swarm`: many BGP sessions from one process, one source address each — the
 * session-scale scenario's routers. `connect` opens them (a bounded number of connects in
 * flight), each doing OPEN (4-octet AS 4200000000+i, its source as router ID, the hold time
 * given) and KEEPALIVE, then sending a KEEPALIVE every third of the negotiated hold time;
 * `announce` has every established session announce its own block of /24s (packed UPDATEs)
 * and announce it again whenever it gets a ROUTE-REFRESH (its OPEN advertises route
 * refresh, as a router that can be bridged does); `status` counts; `reconnect` reopens the sessions that closed (to the same address, from
 * the same source, as a router whose session dropped does); `close` ends them all.
 */
import { connect, type Socket } from "node:net";
import { MessageType } from "../../src/bgp/constants.ts";
import { encodeAnnouncements } from "../../src/bgp/update-encoder.ts";
import { drained } from "./bgp-client.ts";
import { benchOpen, KEEPALIVE, MessageScanner, nowMs } from "./bgp-wire.ts";
import { emit, type Fields, need, serveCommands } from "./worker-channel.ts";

interface Session {
  index: number;
  source: string;
  asn: number;
  host: string;
  port: number;
  holdTime: number;
  socket: Socket;
  state: "connecting" | "open-sent" | "established" | "closed";
  error?: string;
  keepalivesIn: number;
  routeRefreshesIn: number;
  notificationsIn: number;
  /** What `announce` sent: sent again on a ROUTE-REFRESH. */
  table?: Buffer;
  timer?: ReturnType<typeof setInterval>;
}

/** The base of the announced /24s: 20.0.0.0 onwards (1,000 x 1,000 ends below 36.0.0.0). */
const PREFIX_BASE = 20 * 0x1000000;

export function announcedPrefix(n: number): string {
  const a = PREFIX_BASE + n * 256;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24`;
}

export async function runSwarm(): Promise<void> {
  const sessions: Session[] = [];

  const open = (s: Session, host: string, port: number, holdTime: number) =>
    new Promise<void>((resolve) => {
      const socket = connect({ host, port, localAddress: s.source, noDelay: true });
      s.socket = socket;
      let gotOpen = false;
      const settle = () => resolve();
      const scanner = new MessageScanner((type, message) => {
        if (type === MessageType.OPEN) {
          gotOpen = true;
          socket.write(KEEPALIVE);
          const peerHold = message.readUInt16BE(22);
          const hold = Math.min(peerHold, holdTime);
          if (hold > 0) {
            s.timer = setInterval(() => socket.write(KEEPALIVE), (hold * 1000) / 3);
          }
        } else if (type === MessageType.KEEPALIVE) {
          s.keepalivesIn++;
          if (gotOpen && s.state === "open-sent") {
            s.state = "established";
            settle();
          }
        } else if (type === MessageType.NOTIFICATION) {
          s.notificationsIn++;
          s.error = "NOTIFICATION received";
        } else if (type === MessageType.ROUTE_REFRESH) {
          s.routeRefreshesIn++;
          if (s.table) socket.write(s.table);
        }
      });
      socket.on("connect", () => {
        s.state = "open-sent";
        socket.write(benchOpen(s.asn, s.source, holdTime));
      });
      socket.on("data", (chunk: Buffer) => scanner.push(chunk));
      socket.on("error", (err) => {
        s.error ??= err.message;
      });
      socket.on("close", () => {
        s.state = "closed";
        if (s.timer) clearInterval(s.timer);
        settle();
      });
    });

  const connectAll = async (command: Fields): Promise<Fields> => {
    const host = need(command.host as string | undefined, "host");
    const port = need(command.port as number | undefined, "port");
    const sources = need(command.sources as string[] | undefined, "sources");
    const holdTime = (command.holdTime as number | undefined) ?? 30;
    const concurrency = (command.concurrency as number | undefined) ?? 50;
    const timeoutMs = (command.timeoutMs as number | undefined) ?? 120_000;
    const t0 = nowMs();
    const fresh: Session[] = sources.map((source, i) => ({
      index: sessions.length + i,
      source,
      asn: 4_200_000_000 + sessions.length + i,
      host,
      port,
      holdTime,
      socket: undefined as unknown as Socket,
      state: "connecting",
      keepalivesIn: 0,
      routeRefreshesIn: 0,
      notificationsIn: 0,
    }));
    sessions.push(...fresh);
    let next = 0;
    const deadline = Date.now() + timeoutMs;
    const lane = async () => {
      while (next < fresh.length && Date.now() < deadline) {
        const s = fresh[next++] as Session;
        const left = Math.max(1, deadline - Date.now());
        await Promise.race([open(s, host, port, holdTime), Bun.sleep(left)]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, fresh.length) }, lane));
    const established = fresh.filter((s) => s.state === "established").length;
    return {
      established,
      failed: fresh.length - established,
      elapsedMs: nowMs() - t0,
      errors: [...new Set(fresh.map((s) => s.error).filter(Boolean))].slice(0, 5),
    };
  };

  const announce = async (command: Fields): Promise<Fields> => {
    const perSession = need(command.perSession as number | undefined, "perSession");
    const t0 = nowMs();
    let bytes = 0;
    let prefixes = 0;
    const live = sessions.filter((s) => s.state === "established");
    const writes: Promise<void>[] = [];
    for (const s of live) {
      const list = Array.from({ length: perSession }, (_, j) =>
        announcedPrefix(s.index * perSession + j),
      );
      const updates = encodeAnnouncements(
        { origin: 0, asPath: [s.asn, 64_999], nextHop: s.source },
        list,
      );
      const chunk = Buffer.concat(updates);
      s.table = chunk;
      bytes += chunk.length;
      prefixes += list.length;
      if (!s.socket.write(chunk)) writes.push(drained(s.socket).catch(() => {}));
    }
    await Promise.all(writes);
    return { sessions: live.length, prefixes, bytes, elapsedMs: nowMs() - t0 };
  };

  const reconnect = async (command: Fields): Promise<Fields> => {
    const timeoutMs = (command.timeoutMs as number | undefined) ?? 30_000;
    const closed = sessions.filter((s) => s.state === "closed");
    for (const s of closed) {
      s.state = "connecting";
      delete s.error;
    }
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      closed.map((s) =>
        Promise.race([
          open(s, s.host, s.port, s.holdTime),
          Bun.sleep(Math.max(1, deadline - Date.now())),
        ]),
      ),
    );
    return {
      reopened: closed.length,
      established: closed.filter((s) => s.state === "established").length,
    };
  };

  const status = (): Fields => {
    const count = (st: Session["state"]) => sessions.filter((s) => s.state === st).length;
    return {
      sessions: sessions.length,
      established: count("established"),
      closed: count("closed"),
      keepalivesIn: sessions.reduce((n, s) => n + s.keepalivesIn, 0),
      routeRefreshesIn: sessions.reduce((n, s) => n + s.routeRefreshesIn, 0),
      notificationsIn: sessions.reduce((n, s) => n + s.notificationsIn, 0),
      errors: [...new Set(sessions.map((s) => s.error).filter(Boolean))].slice(0, 5),
    };
  };

  const closeAll = async (): Promise<Fields> => {
    for (const s of sessions) {
      if (s.timer) clearInterval(s.timer);
      s.socket?.end();
    }
    await Bun.sleep(500);
    for (const s of sessions) s.socket?.destroy();
    const n = sessions.length;
    sessions.length = 0;
    return { closed: n };
  };

  serveCommands({ connect: connectAll, announce, status, reconnect, close: closeAll });
  emit("ready");
}
