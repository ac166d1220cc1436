/**
 * What BGP-aware bridging costs on the agent's hot path: a full table's UPDATEs (real
 * encodings, ~100-octet messages) pushed through `BgpBridge.fromRouter` in 64 KiB chunks,
 * the way a relayed session's router bytes go, against the same loop without the bridge.
 * Pure CPU, no sockets: it measures the bridge's own per-chunk and per-message work.
 *
 *   bun scripts/bench-bridge.ts [--routes N] [--rounds N]
 */
import { BgpBridge } from "../src/agent/bridge/bgp-bridge.ts";
import { Afi, Safi } from "../src/bgp/constants.ts";
import { encodeKeepalive } from "../src/bgp/keepalive.ts";
import { encodeOpen } from "../src/bgp/open.ts";
import { encodeUpdate } from "../src/bgp/update-encoder.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const routes = flag("routes", 1_000_000);
const rounds = flag("rounds", 5);
const CHUNK = 64 * 1024;

/** One UPDATE per 4 prefixes, like a daemon packing a table. */
function table(): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let i = 0; i < routes; i += 4) {
    const nlri: string[] = [];
    for (let j = i; j < Math.min(i + 4, routes); j++) {
      nlri.push(`${10 + ((j >> 16) & 0x7f)}.${(j >> 8) & 0xff}.${j & 0xff}.0/24`);
    }
    const u = encodeUpdate({
      origin: 0,
      asPath: [65001, 64500 + (i % 7)],
      nextHop: "10.0.0.1",
      nlri,
    });
    parts.push(u);
    size += u.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function established(): BgpBridge {
  const b = new BgpBridge();
  const caps = { multiprotocol: [{ afi: Afi.IPV4, safi: Safi.UNICAST }], routeRefresh: true };
  b.fromRouter(
    encodeOpen({ asn: 65001, holdTime: 90, routerId: "10.0.0.1", capabilities: caps }),
    0,
  );
  b.fromFarEnd(
    encodeOpen({ asn: 64512, holdTime: 90, routerId: "192.0.2.1", capabilities: caps }),
    0,
  );
  b.fromFarEnd(encodeKeepalive(), 0);
  b.fromRouter(encodeKeepalive(), 0);
  return b;
}

function run(bytes: Uint8Array, bridged: boolean): number {
  const bridge = bridged ? established() : undefined;
  let sink = 0;
  const start = performance.now();
  for (let at = 0; at < bytes.length; at += CHUNK) {
    const chunk = bytes.subarray(at, Math.min(at + CHUNK, bytes.length));
    if (bridge) {
      for (const a of bridge.fromRouter(chunk, 0))
        if (a.kind === "toFarEnd") sink += a.bytes.length;
    } else sink += chunk.length;
  }
  const ms = performance.now() - start;
  if (sink !== bytes.length) throw new Error(`passed ${sink} of ${bytes.length} octets`);
  return ms;
}

const bytes = table();
const mb = bytes.length / 1e6;
const results: Record<string, number[]> = { plain: [], bridged: [] };
for (let r = 0; r < rounds; r++) {
  results.plain?.push(run(bytes, false));
  results.bridged?.push(run(bytes, true));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const plain = median(results.plain ?? []);
const bridged = median(results.bridged ?? []);
console.log(
  `table: ${routes} IPv4 routes, ${mb.toFixed(1)} MB of UPDATEs, ${CHUNK / 1024} KiB chunks`,
);
console.log(`without bridge: ${plain.toFixed(1)} ms (median of ${rounds})`);
console.log(
  `through BgpBridge: ${bridged.toFixed(1)} ms = ${(mb / (bridged / 1000)).toFixed(0)} MB/s, ${(((bridged - plain) * 1e6) / (routes / 4)).toFixed(0)} ns per UPDATE`,
);
