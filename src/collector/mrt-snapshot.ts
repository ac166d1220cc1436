import {
  encodePeerIndexTable,
  encodeRibRecord,
  type MrtPeer,
  mrtAttributes,
} from "../mrt/table-dump-v2.ts";
import type { RibSource } from "./rib-directory.ts";
import { RibSnapshot } from "./rib-snapshot.ts";
import { storedMpNextHop, storedPathAttributes } from "./stored-attributes.ts";

/**
 * One device's Adj-RIB-In as an MRT TABLE_DUMP_V2 file (RFC 6396): a PEER_INDEX_TABLE
 * naming the device's router (peer 0), then one RIB_IPV4_UNICAST / RIB_IPV6_UNICAST
 * record per prefix. The originated time of every entry is when the session became
 * Established (the RIB keeps no per-route time). `mrtChunks` reads a RibSnapshot lazily,
 * in chunks of about `chunkBytes`, so the caller can write a turn at a time; it stops
 * early (and says so through `snap.valid`) when the session ends meanwhile.
 */
export interface MrtSnapshotOptions {
  /** The collector's BGP Identifier. */
  readonly collectorId: string;
  /** Seconds since the epoch: the records' timestamp. */
  readonly now: number;
  readonly chunkBytes?: number;
}

export interface MrtSnapshotTotals {
  readonly records: number;
  readonly bytes: number;
}

export function* mrtChunks(
  source: RibSource,
  snap: RibSnapshot,
  options: MrtSnapshotOptions,
): Generator<Uint8Array, MrtSnapshotTotals> {
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  const peerInfo = source.peer();
  const peer: MrtPeer = {
    routerId: peerInfo?.routerId ?? "0.0.0.0",
    address: source.address,
    asn: peerInfo?.asn ?? 0,
  };
  const originated = peerInfo?.establishedAt ?? options.now;
  let parts: Uint8Array[] = [];
  let pending = 0;
  let bytes = 0;
  let records = 0;
  const add = (record: Uint8Array) => {
    parts.push(record);
    pending += record.length;
    bytes += record.length;
    records++;
  };
  const take = (): Uint8Array => {
    const chunk = Buffer.concat(parts, pending);
    parts = [];
    pending = 0;
    return chunk;
  };
  add(encodePeerIndexTable(options.now, options.collectorId, source.device, [peer]));
  const prefix = new Uint8Array(16);
  for (let i = 0; i < snap.count; i++) {
    if (pending >= chunkBytes) {
      yield take();
      if (!snap.valid) return { records, bytes };
    }
    snap.prefix(i, prefix);
    const set = snap.attributes(i);
    const attributes = mrtAttributes(storedPathAttributes(set), storedMpNextHop(set));
    add(
      encodeRibRecord(options.now, snap.isV6(i), i, snap.length(i), prefix, [
        { peerIndex: 0, originatedTime: originated, attributes },
      ]),
    );
  }
  if (pending > 0) yield take();
  return { records, bytes };
}

/** The whole file at once, to `write` (tests and tools). */
export function writeMrtSnapshot(
  source: RibSource,
  options: MrtSnapshotOptions,
  write: (chunk: Uint8Array) => void,
): MrtSnapshotTotals {
  const snap = new RibSnapshot(source.rib);
  try {
    const it = mrtChunks(source, snap, options);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
      write(r.value);
    }
  } finally {
    snap.release();
  }
}
