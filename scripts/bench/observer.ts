/**
 * The gateway's per-UPDATE BGP code in process: the benchmark's full table (1M IPv4 + 200k
 * IPv6) as UPDATEs, fed in chunks the size a relay hands over to one Established
 * forwarded-session observer (SessionObserver) and to one built-in collector session
 * (BgpSpeaker, no RIB); ms per table (best of N), checked against the prefix counts.
 *
 *   bun scripts/bench/observer.ts [--root DIR] [--rounds N] [--chunk BYTES] [--evict N]
 *
 * --evict N copies N times each chunk's size through a 64 MiB region between chunks, as the
 * running gateway's other work on the same bytes does (TLS, HTTP/2 frames, grpc-js's
 * reassembly, the socket write): the key sets' cache misses then show as they do there.
 *
 * --root loads SessionObserver and BgpSpeaker from another checkout (e.g. a `git archive`
 * of an older commit) so two versions compare in the same minute.
 */
import { resolve } from "node:path";
import { Afi, Safi } from "../../src/bgp/constants.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import type { BgpSpeaker as Speaker } from "../../src/collector/bgp-speaker.ts";
import { systemClock } from "../../src/core/clock.ts";
import { FULL_TABLE, generateTable } from "./full-table.ts";
import { encodeUpdateBlock } from "./update-stream.ts";

interface Observer {
  fromRouter(chunk: Uint8Array): void;
  fromDaemon(chunk: Uint8Array): void;
  readonly prefixes: { ipv4: number; ipv6: number };
  readonly updates: number;
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = resolve(flag("--root") ?? `${import.meta.dir}/../..`);
const rounds = Number(flag("--rounds") ?? 5);
const chunkSize = Number(flag("--chunk") ?? 65536);
const evict = Number(flag("--evict") ?? 0);
const scratch = new Uint8Array(evict > 0 ? 64 * 1024 * 1024 : 0);
let scratchAt = 0;
/** Streams `evict` × `bytes` through the scratch region (the other work on a chunk). */
function evictCaches(bytes: number): void {
  for (let i = 0; i < evict; i++) {
    if (scratchAt + 2 * bytes > scratch.length) scratchAt = 0;
    scratch.copyWithin(scratchAt + bytes, scratchAt, scratchAt + bytes);
    scratchAt += 2 * bytes;
  }
}
const { SessionObserver } = (await import(`${root}/src/gateway/session-observer.ts`)) as {
  SessionObserver: new () => Observer;
};
const { BgpSpeaker } = (await import(`${root}/src/collector/bgp-speaker.ts`)) as {
  BgpSpeaker: typeof Speaker;
};

const block = encodeUpdateBlock(generateTable(FULL_TABLE), {
  routerAsn: 65001,
  nextHop4: "192.0.2.1",
  nextHop6: "2001:db8::1",
});
const families = [
  { afi: Afi.IPV4, safi: Safi.UNICAST },
  { afi: Afi.IPV6, safi: Safi.UNICAST },
];
const open = (asn: number, routerId: string) =>
  encodeOpen({ asn, holdTime: 90, routerId, capabilities: { multiprotocol: families } });

console.log(
  `${root}; ${block.messages} UPDATEs, ${block.prefixes} prefixes, ${(block.bytes.length / 1e6).toFixed(1)} MB in ${chunkSize}-byte chunks${evict > 0 ? `, ${evict}× each chunk copied between chunks` : ""}; best of ${rounds}`,
);
let best = Number.POSITIVE_INFINITY;
/** The first table's time: the code still cold (interpreted, then compiled on the way). */
let first = 0;
for (let r = 0; r < rounds; r++) {
  const o = new SessionObserver();
  o.fromRouter(open(65001, "10.0.0.1"));
  o.fromDaemon(open(64512, "10.0.0.2"));
  o.fromDaemon(encodeKeepalive());
  o.fromRouter(encodeKeepalive());
  const t0 = Bun.nanoseconds();
  for (let at = 0; at < block.bytes.length; at += chunkSize) {
    o.fromRouter(block.bytes.subarray(at, at + chunkSize));
    if (evict > 0) evictCaches(chunkSize);
  }
  const ms = (Bun.nanoseconds() - t0) / 1e6;
  if (r === 0) first = ms;
  best = Math.min(best, ms);
  const { ipv4, ipv6 } = o.prefixes;
  if (ipv4 + ipv6 !== block.prefixes || o.updates !== block.messages)
    throw new Error(`counted ${ipv4} + ${ipv6} prefixes, ${o.updates} UPDATEs`);
}
console.log(
  `observer: ${best.toFixed(0)} ms per table, ${((best * 1e6) / block.messages).toFixed(0)} ns per UPDATE (first table ${first.toFixed(0)} ms)`,
);

best = Number.POSITIVE_INFINITY;
for (let r = 0; r < rounds; r++) {
  const speaker = new BgpSpeaker({
    localAsn: 64512,
    routerId: "10.0.0.2",
    holdTime: 90,
    clock: systemClock,
    onSend: () => {},
    onClose: () => {},
  });
  speaker.receive(open(65001, "10.0.0.1"));
  speaker.receive(encodeKeepalive());
  const t0 = Bun.nanoseconds();
  for (let at = 0; at < block.bytes.length; at += chunkSize) {
    speaker.receive(block.bytes.subarray(at, at + chunkSize));
    if (evict > 0) evictCaches(chunkSize);
  }
  best = Math.min(best, (Bun.nanoseconds() - t0) / 1e6);
  const { ipv4, ipv6 } = speaker.prefixes;
  speaker.close();
  if (ipv4 + ipv6 !== block.prefixes) throw new Error(`collector counted ${ipv4} + ${ipv6}`);
}
console.log(
  `collector: ${best.toFixed(0)} ms per table, ${((best * 1e6) / block.messages).toFixed(0)} ns per UPDATE`,
);
