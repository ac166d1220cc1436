/**
 * The Adj-RIB-In alone, in one process, no network: `bun scripts/bench/rib-inprocess.ts
 * [ipv4] [ipv6]` feeds the benchmark table's UPDATEs (update-stream.ts) straight into an
 * AdjRibIn and prints its size (arrays by part, process RSS and heap after a full GC) and
 * IPv4 longest-prefix-match lookups per second on random addresses. A quick check of the
 * numbers the `rib` bench scenario measures against BIRD.
 */
import { BgpFramer } from "../../src/bgp/framer.ts";
import { decodeUpdate } from "../../src/bgp/update.ts";
import { AdjRibIn } from "../../src/collector/adj-rib-in.ts";
import { generateTable } from "./full-table.ts";
import { encodeUpdateBlock } from "./update-stream.ts";

const ipv4 = Number(process.argv[2] ?? 1_000_000);
const ipv6 = Number(process.argv[3] ?? 200_000);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const mem = () => {
  Bun.gc(true);
  return process.memoryUsage();
};

const routes = [...generateTable({ ipv4, ipv6, seed: 20_260_601 })];
const blocks: Buffer[] = [];
for (let i = 0; i < routes.length; i += 50_000) {
  blocks.push(
    encodeUpdateBlock(routes.slice(i, i + 50_000), {
      routerAsn: 65001,
      nextHop4: "192.0.2.1",
      nextHop6: "2001:db8::1",
    }).bytes,
  );
}
routes.length = 0;
const before = mem();
const rib = new AdjRibIn();
const t0 = performance.now();
const framer = new BgpFramer();
for (const b of blocks) {
  for (let at = 0; at < b.length; at += 65536) {
    for (const f of framer.push(b.subarray(at, at + 65536))) {
      rib.apply(decodeUpdate(f.body, { fourOctetAs: true, external: true }));
    }
  }
}
const loadMs = performance.now() - t0;
blocks.length = 0;
const after = mem();
const total = rib.v4.size + rib.v6.size;
console.log(
  `routes ${total} (attribute sets ${rib.attributes.size}) loaded in ${(loadMs / 1000).toFixed(1)} s`,
);
console.log(
  `arrays ${mib(rib.bytes)} (${(rib.bytes / total).toFixed(0)} B/route): v4 ${mib(rib.v4.bytes)}, v6 ${mib(rib.v6.bytes)}, attributes ${mib(rib.attributes.bytes)}`,
);
console.log(
  `RSS +${mib(after.rss - before.rss)} (${((after.rss - before.rss) / total).toFixed(0)} B/route), heapUsed +${mib(after.heapUsed - before.heapUsed)}`,
);
const n = 2_000_000;
const addrs = new Uint32Array(n);
let x = 0x2545f491;
for (let i = 0; i < n; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  addrs[i] = 0x01000000 + ((x >>> 0) % (223 * 0x1000000));
}
const map = rib.v4;
let hits = 0;
const t1 = performance.now();
for (let i = 0; i < n; i++) {
  map.key[0] = addrs[i] as number;
  if (map.longestMatch() >= 0) hits++;
}
const s = (performance.now() - t1) / 1000;
console.log(`LPM ${(n / s).toFixed(0)}/s (${hits} of ${n} found)`);
