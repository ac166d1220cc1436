/**
 * PrefixTable (the collector's and the forwarded-session observer's exact prefix set) in
 * process: ns per add / duplicate add / remove over the benchmark's full table
 * (1M IPv4 + 200k IPv6), and memory (RSS and JS heap after a full GC) for one full table and
 * for 1,000 tables of 1,000 prefixes.
 *
 *   bun scripts/bench/prefix-table.ts [--module PATH] [--rounds N] [--part speed|full|many] [--sorted]
 *
 * Each part runs in a process of its own (the script starts itself once per part), so RSS
 * growth is not hidden by memory an earlier part freed.
 * --module loads another PrefixTable (an older checkout's src/collector/prefix-table.ts) so
 * two versions compare on the same machine in the same minute.
 */
import { heapStats } from "bun:jsc";
import { resolve } from "node:path";
import { parsePrefix } from "../../src/bgp/prefix.ts";
import { FULL_TABLE, generateTable } from "./full-table.ts";

interface Table {
  add(afi: number, length: number, buf: Uint8Array, offset: number): void;
  remove(afi: number, length: number, buf: Uint8Array, offset: number): void;
  readonly ipv4: number;
  readonly ipv6: number;
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const modulePath = resolve(
  flag("--module") ?? `${import.meta.dir}/../../src/collector/prefix-table.ts`,
);
const rounds = Number(flag("--rounds") ?? 3);
const part = flag("--part");
if (part === undefined) {
  for (const p of ["speed", "full", "many"]) {
    const child = Bun.spawnSync([process.execPath, import.meta.path, ...args, "--part", p], {
      stdout: "inherit",
      stderr: "inherit",
    });
    if (child.exitCode !== 0) process.exit(child.exitCode ?? 1);
  }
  process.exit(0);
}
const { PrefixTable } = (await import(modulePath)) as { PrefixTable: new () => Table };

// The table's prefixes packed as NLRI: [afi, length, octets...] back to back.
const packed = new Uint8Array(1_200_000 * 18);
const at: number[] = [];
let fill = 0;
for (const route of generateTable(FULL_TABLE)) {
  const p = parsePrefix(route.prefix);
  at.push(fill);
  packed[fill] = p.afi;
  packed[fill + 1] = p.length;
  packed.set(p.bytes.subarray(0, (p.length + 7) >>> 3), fill + 2);
  fill += 2 + ((p.length + 7) >>> 3);
}
// --sorted: in address order (family, address, length), as a router sending its table may.
const sortKey = (o: number) => {
  const addr =
    (packed[o + 2] ?? 0) * 16777216 +
    (packed[o + 3] ?? 0) * 65536 +
    (packed[o + 4] ?? 0) * 256 +
    (packed[o + 5] ?? 0);
  return (packed[o] as number) * 2 ** 45 + addr * 256 + (packed[o + 1] as number);
};
if (args.includes("--sorted")) at.sort((a, b) => sortKey(a) - sortKey(b));
const offsets = Uint32Array.from(at);

function each(t: Table, op: "add" | "remove", from = 0, to = offsets.length): void {
  for (let i = from; i < to; i++) {
    const o = offsets[i] as number;
    t[op](packed[o] as number, packed[o + 1] as number, packed, o + 2);
  }
}

function memory(): { rss: number; heap: number; extra: number } {
  Bun.gc(true);
  const h = heapStats();
  return { rss: process.memoryUsage().rss, heap: h.heapSize, extra: h.extraMemorySize };
}

const mib = (n: number) => (n / 1048576).toFixed(1);
const n = offsets.length;
if (part === "speed") {
  console.log(
    `module ${modulePath}; ${n} prefixes${args.includes("--sorted") ? " in address order" : ""}; best of ${rounds}`,
  );
  const best = { add: Infinity, again: Infinity, remove: Infinity };
  for (let r = 0; r < rounds; r++) {
    const t = new PrefixTable();
    let t0 = Bun.nanoseconds();
    each(t, "add");
    best.add = Math.min(best.add, (Bun.nanoseconds() - t0) / n);
    t0 = Bun.nanoseconds();
    each(t, "add");
    best.again = Math.min(best.again, (Bun.nanoseconds() - t0) / n);
    if (t.ipv4 + t.ipv6 !== n) throw new Error(`held ${t.ipv4 + t.ipv6}, expected ${n}`);
    t0 = Bun.nanoseconds();
    each(t, "remove");
    best.remove = Math.min(best.remove, (Bun.nanoseconds() - t0) / n);
    if (t.ipv4 + t.ipv6 !== 0) throw new Error("not empty after removing all");
  }
  console.log(
    `ns per prefix: add ${best.add.toFixed(0)}, add again ${best.again.toFixed(0)}, remove ${best.remove.toFixed(0)}`,
  );
}
if (part === "full") {
  const before = memory();
  const full = new PrefixTable();
  each(full, "add");
  const after = memory();
  console.log(
    `one full table: RSS +${mib(after.rss - before.rss)} MiB, heap +${mib(after.heap - before.heap)} MiB, extra memory +${mib(after.extra - before.extra)} MiB (${full.ipv4} + ${full.ipv6})`,
  );
}
if (part === "many") {
  const before = memory();
  const many: Table[] = [];
  for (let s = 0; s < 1000; s++) {
    const t = new PrefixTable();
    each(t, "add", s * 1000, s * 1000 + 1000);
    many.push(t);
  }
  const after = memory();
  console.log(
    `1,000 tables × 1,000 prefixes: RSS +${mib(after.rss - before.rss)} MiB, heap +${mib(after.heap - before.heap)} MiB, extra memory +${mib(after.extra - before.extra)} MiB (${many.length})`,
  );
}
