/**
 * Time from a gateway coming back to its collector holding every bridged session's table
 * again: N scripted routers (each announcing P prefixes and answering ROUTE-REFRESH) peer
 * with one agent, relayed to a gateway's built-in collector on loopback, all in this
 * process. The gateway is closed; once every session is bridging a new gateway starts on
 * the same port, and the clock runs until its collector holds N × P prefixes again.
 *
 *   bun scripts/bench-bridge-resume.ts [--sessions 1000] [--prefixes 100]
 */
import { connect, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../src/agent/agent.ts";
import { Afi, MessageType, Safi } from "../src/bgp/constants.ts";
import { BgpFramer } from "../src/bgp/framer.ts";
import { encodeKeepalive } from "../src/bgp/keepalive.ts";
import { encodeOpen } from "../src/bgp/open.ts";
import { encodeUpdate } from "../src/bgp/update-encoder.ts";
import { silentLogger } from "../src/core/logger.ts";
import { type RunningGateway, startGateway } from "../src/gateway/gateway.ts";
import { agentConfig, gatewayConfig } from "../test/support/stack.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const SESSIONS = flag("sessions", 1000);
const PREFIXES = flag("prefixes", 100);
const DEVICE = {
  name: "r",
  id: 1,
  site: 0,
  ip: "127.0.0.1",
  target: { kind: "collector" },
} as const;

/** One router's table: PREFIXES /24s of its own, 25 per UPDATE. */
function tableOf(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < PREFIXES; i += 25) {
    const nlri: string[] = [];
    for (let j = i; j < Math.min(i + 25, PREFIXES); j++) {
      const k = n * PREFIXES + j;
      nlri.push(`${10 + (k >> 16)}.${(k >> 8) & 0xff}.${k & 0xff}.0/24`);
    }
    out.push(encodeUpdate({ origin: 0, asPath: [65001], nextHop: "10.0.0.1", nlri }));
  }
  return out;
}

function router(port: number, n: number): Socket {
  const socket = connect({ host: "127.0.0.1", port });
  const framer = new BgpFramer();
  const table = tableOf(n);
  const announce = () => {
    for (const u of table) socket.write(u);
  };
  socket.on("error", () => {});
  socket.once("connect", () =>
    socket.write(
      encodeOpen({
        asn: 65001,
        holdTime: 90,
        routerId: "10.0.0.1",
        capabilities: {
          multiprotocol: [{ afi: Afi.IPV4, safi: Safi.UNICAST }],
          routeRefresh: true,
        },
      }),
    ),
  );
  socket.on("data", (d: Buffer) => {
    for (const f of framer.push(new Uint8Array(d))) {
      if (f.type === MessageType.OPEN) {
        socket.write(encodeKeepalive());
        announce();
      } else if (f.type === MessageType.ROUTE_REFRESH) announce();
    }
  });
  return socket;
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const held = (g: RunningGateway) => g.registry.all()[0]?.counters.prefixes.ipv4 ?? 0;
const want = SESSIONS * PREFIXES;

const first = await startGateway(gatewayConfig({ devices: [DEVICE] }), silentLogger);
const agent: RunningAgent = await startAgent(agentConfig(first.port, { multi: 100 }), silentLogger);
const port = agent.listening[0]?.port ?? 0;
const routers: Socket[] = [];
let t = performance.now();
for (let n = 0; n < SESSIONS; n++) routers.push(router(port, n));
await until(`${want} prefixes`, () => held(first) === want, 120_000);
console.log(
  `${SESSIONS} sessions x ${PREFIXES} prefixes up in ${(performance.now() - t).toFixed(0)} ms`,
);

await first.close();
const bridging = () => agent.status().sessions.filter((s) => s.state === "bridging").length;
await until("every session bridging", () => bridging() === SESSIONS, 60_000);
const second = await startGateway(
  gatewayConfig({ devices: [DEVICE], listen: { host: "127.0.0.1", port: first.port } }),
  silentLogger,
);
t = performance.now();
await until(`${want} prefixes on the new gateway`, () => held(second) === want, 120_000);
const ms = performance.now() - t;
const closed = routers.filter((s) => s.destroyed).length;
console.log(
  `gateway back -> collector holding all ${want} prefixes again: ${ms.toFixed(0)} ms (${SESSIONS} bridged sessions, ${closed} router connections lost)`,
);
for (const s of routers) s.destroy();
await agent.close();
await second.close();
process.exit(0);
