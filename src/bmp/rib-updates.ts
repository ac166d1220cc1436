import { AttrFlag, AttrType, MAX_MESSAGE_LENGTH, MessageType } from "../bgp/constants.ts";
import { encodeEndOfRib } from "../bgp/update-encoder.ts";
import type { AdjRibIn } from "../collector/adj-rib-in.ts";
import type { PrefixMap } from "../collector/prefix-map.ts";
import { storedMpNextHop, storedPathAttributes } from "../collector/stored-attributes.ts";

/**
 * An Adj-RIB-In as BGP UPDATE messages (whole, header included), for replaying a table to
 * a BMP station: the routes of each attribute set packed into as few UPDATEs as fit in
 * 4096 octets (IPv4 in the NLRI field, IPv6 in MP_REACH_NLRI), then End-of-RIB for both
 * families. AS_PATH is in 4-octet form (see stored-attributes.ts). Pure; synchronous.
 */
export function ribAsUpdates(rib: AdjRibIn, visit: (update: Uint8Array) => void): number {
  let count = 0;
  const emit = (u: Uint8Array) => {
    count++;
    visit(u);
  };
  replayFamily(rib, rib.v4, 1, emit);
  replayFamily(rib, rib.v6, 2, emit);
  emit(encodeEndOfRib(1));
  emit(encodeEndOfRib(2));
  return count;
}

function replayFamily(rib: AdjRibIn, map: PrefixMap, afi: number, emit: (u: Uint8Array) => void) {
  const groups = new Map<number, number[]>();
  map.forEachSlot((slot) => {
    const id = map.slotValue(slot);
    const g = groups.get(id);
    if (g) g.push(slot);
    else groups.set(id, [slot]);
  });
  const nlri = new Uint8Array(MAX_MESSAGE_LENGTH);
  for (const [id, slots] of groups) {
    const set = rib.attributes.get(id);
    const attrs = storedPathAttributes(set);
    const nextHop = storedMpNextHop(set);
    const mp = afi === 2 || nextHop.length > 0;
    // Room for NLRI: header 19, two lengths 4, attributes, MP_REACH header and fixed part.
    const room = MAX_MESSAGE_LENGTH - 23 - attrs.length - (mp ? 4 + 5 + nextHop.length : 0);
    if (room < 17) continue;
    let used = 0;
    const flush = () => {
      if (used === 0) return;
      emit(buildUpdate(attrs, mp ? { afi, nextHop } : undefined, nlri.subarray(0, used)));
      used = 0;
    };
    for (const slot of slots) {
      const length = map.slotLength(slot);
      const n = (length + 7) >>> 3;
      if (used + 1 + n > room) flush();
      nlri[used] = length;
      const key = map.slotKey(slot);
      for (let b = 0; b < n; b++) {
        nlri[used + 1 + b] = ((key[b >>> 2] as number) >>> (24 - 8 * (b & 3))) & 0xff;
      }
      used += 1 + n;
    }
    flush();
  }
}

function buildUpdate(
  attrs: Uint8Array,
  mp: { afi: number; nextHop: Uint8Array } | undefined,
  nlri: Uint8Array,
): Uint8Array {
  const mpValue = mp ? 5 + mp.nextHop.length + nlri.length : 0;
  const mpHeader = mp ? (mpValue > 255 ? 4 : 3) : 0;
  const attrLen = (mp ? mpHeader + mpValue : 0) + attrs.length;
  const total = 19 + 2 + 2 + attrLen + (mp ? 0 : nlri.length);
  const out = new Uint8Array(total);
  out.fill(0xff, 0, 16);
  out[16] = total >>> 8;
  out[17] = total & 0xff;
  out[18] = MessageType.UPDATE;
  let pos = 21; // withdrawn routes length 0
  out[pos++] = attrLen >>> 8;
  out[pos++] = attrLen & 0xff;
  if (mp) {
    out[pos++] = AttrFlag.OPTIONAL | (mpHeader === 4 ? AttrFlag.EXTENDED_LENGTH : 0);
    out[pos++] = AttrType.MP_REACH_NLRI;
    if (mpHeader === 4) out[pos++] = mpValue >>> 8;
    out[pos++] = mpValue & 0xff;
    out[pos++] = 0;
    out[pos++] = mp.afi;
    out[pos++] = 1; // unicast
    out[pos++] = mp.nextHop.length;
    out.set(mp.nextHop, pos);
    pos += mp.nextHop.length;
    out[pos++] = 0; // reserved
    out.set(nlri, pos);
    pos += nlri.length;
  }
  out.set(attrs, pos);
  pos += attrs.length;
  if (!mp) out.set(nlri, pos);
  return out;
}
