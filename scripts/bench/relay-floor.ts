/**
 * What any relay process gains in memory behind a slow far end: the floor the runtime sets
 * under bgproxy's own figure (issue 9's target: under 16 MB per process; DEVELOPERS.md, "Data
 * path: slow far end memory (session 8)"). In a network namespace of its own, for each relay
 * pair and round: a router pushes 200 MiB as fast as the first relay takes them (TCP in, TLS
 * out), the second (TLS in, TCP out) forwards to a daemon reading 1 MB/s, and each relay
 * process's growth over `--seconds` is read as test/e2e/relay-memory.test.ts reads it
 * (test/support/slow-far-end.ts; sampled every 20 ms here).
 *
 * Pairs, each started fresh (cold) every round:
 * - bgproxy: `bgproxy agent` and `bgproxy gateway` (gRPC over HTTP/2 over TLS);
 * - bun-stream: a plain TLS relay in Bun, node:net/node:tls sockets joined by `pipe()`;
 * - bun-socket: the same on Bun's own socket API (Bun.listen/Bun.connect): a partial write
 *   keeps the rest as a view and pauses the source, nothing is copied;
 * - node-stream: bun-stream's script under Node, when `node` is on PATH.
 *
 *   bun scripts/bench/relay-floor.ts [--rounds N] [--seconds S] [--only a,b]   (root)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNetns, destroyAllNetns, type Netns } from "../../test/support/netns.ts";
import type { ManagedProcess } from "../../test/support/process.ts";
import { netnsAvailable } from "../../test/support/root.ts";
import {
  daemonScript,
  lastCount,
  routerScript,
  startBgproxyPair,
  watchGrowth,
} from "../../test/support/slow-far-end.ts";
import { makeTestPki, type TestPki } from "../../test/support/tls.ts";
import { fmt, MiB, median } from "./figures.ts";

const DAEMON_PORT = 11890;
const RELAY_IN_PORT = 11891;
const RELAY_OUT_PORT = 11892;

type PairName = "bgproxy" | "bun-stream" | "bun-socket" | "node-stream";
const PAIRS: readonly PairName[] = ["bgproxy", "bun-socket", "bun-stream", "node-stream"];

interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** One side of a plain relay on node:net/node:tls (runs under Bun and Node alike). */
function streamRelayScript(side: "in" | "out", tls: TlsFiles): string {
  return `
const fs = require("node:fs"), net = require("node:net"), tls = require("node:tls");
const join = (a, b) => { a.pipe(b); b.pipe(a); a.on("error", () => b.destroy()); b.on("error", () => a.destroy()); };
const ready = () => console.log("listening");
${
  side === "in"
    ? `net.createServer((s) => join(s, tls.connect({ host: "127.0.0.1", port: ${RELAY_OUT_PORT}, servername: "localhost", ca: fs.readFileSync(${JSON.stringify(tls.ca)}) }))).listen(${RELAY_IN_PORT}, "127.0.0.1", ready);`
    : `tls.createServer({ key: fs.readFileSync(${JSON.stringify(tls.key)}), cert: fs.readFileSync(${JSON.stringify(tls.cert)}) }, (s) => join(s, net.connect(${DAEMON_PORT}, "127.0.0.1"))).listen(${RELAY_OUT_PORT}, "127.0.0.1", ready);`
}
`;
}

/** One side of a plain relay on Bun's socket API: views of partial writes, no copies. */
function socketRelayScript(side: "in" | "out", tls: TlsFiles): string {
  const readFile = (path: string) => `require("node:fs").readFileSync(${JSON.stringify(path)})`;
  return `
const send = (to, from, bytes) => {
  const n = to.write(bytes);
  if (n < bytes.length) { to.data.pending = bytes.subarray(Math.max(n, 0)); from.pause(); }
};
const handlers = {
  data(s, bytes) {
    const peer = s.data.peer;
    if (!peer) { s.data.early.push(new Uint8Array(bytes)); return; }
    if (peer.data.pending) {
      const all = new Uint8Array(peer.data.pending.length + bytes.length);
      all.set(peer.data.pending); all.set(bytes, peer.data.pending.length);
      peer.data.pending = all; s.pause(); return;
    }
    send(peer, s, bytes);
  },
  drain(s) {
    const pending = s.data.pending;
    if (!pending) return;
    s.data.pending = undefined;
    const n = s.write(pending);
    if (n < pending.length) s.data.pending = pending.subarray(Math.max(n, 0));
    else s.data.peer.resume();
  },
  close(s) { s.data.peer?.end(); },
  error() {},
};
Bun.listen({
  hostname: "127.0.0.1",
  port: ${side === "in" ? RELAY_IN_PORT : RELAY_OUT_PORT},
  ${side === "out" ? `tls: { key: ${readFile(tls.key)}, cert: ${readFile(tls.cert)} },` : ""}
  socket: {
    ...handlers,
    open(s) {
      s.data = { early: [] };
      Bun.connect({
        hostname: "127.0.0.1",
        port: ${side === "in" ? RELAY_OUT_PORT : DAEMON_PORT},
        data: { early: [], peer: s },
        ${side === "in" ? `tls: { ca: ${readFile(tls.ca)}, serverName: "localhost" },` : ""}
        socket: { ...handlers, open(o) { s.data.peer = o; for (const b of s.data.early.splice(0)) send(o, s, b); } },
      }).catch(() => s.end());
    },
  },
});
console.log("listening");
`;
}

interface Running {
  pids: { in: number; out: number };
  stop(): Promise<void>;
}

async function startPair(pair: PairName, ns: Netns, pki: TestPki, dir: string): Promise<Running> {
  if (pair === "bgproxy") {
    const { agent, gateway } = await startBgproxyPair(ns, dir, {
      router: RELAY_IN_PORT,
      daemon: DAEMON_PORT,
    });
    return {
      pids: { in: agent.process.pid, out: gateway.process.pid },
      stop: async () => {
        await agent.stop();
        await gateway.stop();
      },
    };
  }
  const files = { ca: pki.caCertPath, cert: pki.serverCertPath, key: pki.serverKeyPath };
  const runtime = pair === "node-stream" ? "node" : process.execPath;
  const script = pair === "bun-socket" ? socketRelayScript : streamRelayScript;
  const out = ns.spawn([runtime, "-e", script("out", files)], { label: `${pair}-out` });
  await out.waitForLine(/^listening$/, 10_000);
  const inbound = ns.spawn([runtime, "-e", script("in", files)], { label: `${pair}-in` });
  await inbound.waitForLine(/^listening$/, 10_000);
  return {
    pids: { in: inbound.pid, out: out.pid },
    stop: async () => {
      await inbound.stop();
      await out.stop();
    },
  };
}

interface Round {
  pair: PairName;
  growthIn: number;
  growthOut: number;
  pushed: number;
  read: number;
}

async function runRound(pair: PairName, ns: Netns, pki: TestPki, seconds: number): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), "bgpx-relay-floor-"));
  const daemon = ns.spawn([process.execPath, "-e", daemonScript(DAEMON_PORT)], {
    label: "daemon",
  });
  let router: ManagedProcess | undefined;
  let running: Running | undefined;
  try {
    await daemon.waitForLine(/^listening$/, 10_000);
    running = await startPair(pair, ns, pki, dir);
    await Bun.sleep(1000);
    const { growth } = await watchGrowth(running.pids, {
      durationMs: seconds * 1000,
      intervalMs: 20,
      start: () => {
        router = ns.spawn([process.execPath, "-e", routerScript(RELAY_IN_PORT)], {
          label: "router",
        });
      },
    });
    return {
      pair,
      growthIn: growth.in,
      growthOut: growth.out,
      pushed: router ? lastCount(router, "pushed") : 0,
      read: lastCount(daemon, "read"),
    };
  } finally {
    await router?.stop();
    await running?.stop();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): { rounds: number; seconds: number; pairs: PairName[] } {
  let rounds = 3;
  let seconds = 10;
  let pairs: PairName[] = [...PAIRS];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--rounds" && value) rounds = Number(value);
    else if (flag === "--seconds" && value) seconds = Number(value);
    else if (flag === "--only" && value) {
      const named = value.split(",");
      const unknown = named.filter((p) => !(PAIRS as readonly string[]).includes(p));
      if (unknown.length > 0)
        throw new Error(`relay-floor: --only takes ${PAIRS.join(",")}, not ${unknown.join(",")}`);
      pairs = named as PairName[];
    } else throw new Error(`relay-floor: unknown argument ${flag}`);
    i++;
  }
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20)
    throw new Error("relay-floor: --rounds must be 1..20");
  if (!Number.isFinite(seconds) || seconds < 2 || seconds > 120)
    throw new Error("relay-floor: --seconds must be 2..120");
  return { rounds, seconds, pairs };
}

/** Bytes as MiB, one decimal, no unit (the table's headers name it). */
const mib = (bytes: number) => fmt(bytes / MiB);

async function main(): Promise<void> {
  const { rounds, seconds, pairs } = parseArgs(process.argv.slice(2));
  if (!netnsAvailable) throw new Error("relay-floor: needs root (a network namespace of its own)");
  const available = pairs.filter((p) => p !== "node-stream" || Bun.which("node") !== null);
  const pki = await makeTestPki();
  const ns = await createNetns();
  const results: Round[] = [];
  try {
    // Pairs alternate within each round, so that every pair sees the same minutes.
    for (let r = 1; r <= rounds; r++) {
      for (const pair of available) {
        const round = await runRound(pair, ns, pki, seconds);
        results.push(round);
        console.error(
          `relay-floor: round ${r} ${pair}: in +${mib(round.growthIn)} MiB, out +${mib(round.growthOut)} MiB; pushed ${mib(round.pushed)} MiB, read ${mib(round.read)} MiB`,
        );
      }
    }
  } finally {
    await destroyAllNetns();
    pki.remove();
  }
  console.log(
    `| pair | first relay (TCP in, TLS out) growth, MiB | second relay (TLS in, TCP out) growth, MiB | pushed in ${seconds} s, MiB |`,
  );
  console.log("| --- | --- | --- | --- |");
  for (const pair of available) {
    const rs = results.filter((r) => r.pair === pair);
    console.log(
      `| ${pair} | ${rs.map((r) => mib(r.growthIn)).join(", ")} (median ${mib(median(rs.map((r) => r.growthIn)))}) | ${rs.map((r) => mib(r.growthOut)).join(", ")} (median ${mib(median(rs.map((r) => r.growthOut)))}) | ${rs.map((r) => mib(r.pushed)).join(", ")} |`,
    );
  }
}

await main().catch((err: Error) => {
  console.error(err.message);
  process.exit(2);
});
