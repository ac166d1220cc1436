import {
  encodePeerIndexTable,
  encodeRibRecord,
  type MrtPeer,
  mrtAttributes,
} from "../mrt/table-dump-v2.ts";
import type { PrefixMap } from "./prefix-map.ts";
import type { RibSource } from "./rib-directory.ts";
import { storedMpNextHop, storedPathAttributes } from "./stored-attributes.ts";

/**
 * One device's Adj-RIB-In as an MRT TABLE_DUMP_V2 file (RFC 6396): a PEER_INDEX_TABLE
 * naming the device's router (peer 0), then one RIB_IPV4_UNICAST / RIB_IPV6_UNICAST
 * record per prefix. The originated time of every entry is when the session became
 * Established (the RIB keeps no per-route time). Written synchronously, in chunks of
 * about `chunkBytes`, to `write`: the RIB cannot change while it is read.
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

export function writeMrtSnapshot(
  source: RibSource,
  options: MrtSnapshotOptions,
  write: (chunk: Uint8Array) => void,
): MrtSnapshotTotals {
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
  const push = (record: Uint8Array) => {
    parts.push(record);
    pending += record.length;
    bytes += record.length;
    records++;
    if (pending >= chunkBytes) flush();
  };
  const flush = () => {
    if (parts.length === 0) return;
    const chunk = new Uint8Array(pending);
    let at = 0;
    for (const p of parts) {
      chunk.set(p, at);
      at += p.length;
    }
    parts = [];
    pending = 0;
    write(chunk);
  };
  push(encodePeerIndexTable(options.now, options.collectorId, source.device, [peer]));
  let sequence = 0;
  const { rib } = source;
  const prefix = new Uint8Array(16);
  const dump = (map: PrefixMap, v6: boolean) => {
    map.forEachSlot((slot) => {
      const key = map.slotKey(slot);
      for (let w = 0; w < key.length; w++) {
        const x = key[w] as number;
        prefix[w * 4] = x >>> 24;
        prefix[w * 4 + 1] = (x >>> 16) & 255;
        prefix[w * 4 + 2] = (x >>> 8) & 255;
        prefix[w * 4 + 3] = x & 255;
      }
      const set = rib.attributes.get(map.slotValue(slot));
      const attributes = mrtAttributes(storedPathAttributes(set), storedMpNextHop(set));
      push(
        encodeRibRecord(options.now, v6, sequence++, map.slotLength(slot), prefix, [
          { peerIndex: 0, originatedTime: originated, attributes },
        ]),
      );
    });
  };
  dump(rib.v4, false);
  dump(rib.v6, true);
  flush();
  return { records, bytes };
}
