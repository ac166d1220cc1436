import { AttrFlag, AttrType, MAX_MESSAGE_LENGTH, MessageType } from "../bgp/constants.ts";
import { encodeEndOfRib } from "../bgp/update-encoder.ts";
import type { AdjRibIn } from "../collector/adj-rib-in.ts";
import { RibSnapshot } from "../collector/rib-snapshot.ts";
import { storedMpNextHop, storedPathAttributes } from "../collector/stored-attributes.ts";

/**
 * An Adj-RIB-In as BGP UPDATE messages (whole, header included), for replaying a table to
 * a BMP station: the routes of each attribute set packed into as few UPDATEs as fit in
 * 4096 octets (IPv4 in the NLRI field, IPv6 in MP_REACH_NLRI), then End-of-RIB for both
 * families. AS_PATH is in 4-octet form (see stored-attributes.ts). `ribUpdates` reads a
 * snapshot lazily (the caller paces it) and stops early when the snapshot goes stale.
 */
export function* ribUpdates(snap: RibSnapshot): Generator<Uint8Array> {
  for (const v6 of [false, true]) {
    const order = snap.byAttributes(v6);
    const afi = v6 ? 2 : 1;
    const nlri = new Uint8Array(MAX_MESSAGE_LENGTH);
    const prefix = new Uint8Array(16);
    let k = 0;
    while (k < order.length) {
      if (!snap.valid) return;
      const first = order[k] as number;
      const id = snap.attributeId(first);
      const set = snap.attributes(first);
      const attrs = storedPathAttributes(set);
      const nextHop = storedMpNextHop(set);
      const mp = v6 || nextHop.length > 0;
      // Room for NLRI: header 19, two lengths 4, attributes, MP_REACH header and fixed part.
      const room = MAX_MESSAGE_LENGTH - 23 - attrs.length - (mp ? 4 + 5 + nextHop.length : 0);
      let used = 0;
      for (; k < order.length && snap.attributeId(order[k] as number) === id; k++) {
        if (room < 17) continue;
        const i = order[k] as number;
        const length = snap.length(i);
        const n = (length + 7) >>> 3;
        if (used + 1 + n > room) {
          yield buildUpdate(attrs, mp ? { afi, nextHop } : undefined, nlri.subarray(0, used));
          used = 0;
        }
        snap.prefix(i, prefix);
        nlri[used] = length;
        nlri.set(prefix.subarray(0, n), used + 1);
        used += 1 + n;
      }
      if (used > 0)
        yield buildUpdate(attrs, mp ? { afi, nextHop } : undefined, nlri.subarray(0, used));
    }
  }
  yield encodeEndOfRib(1);
  yield encodeEndOfRib(2);
}

/** The whole table at once (tests, tools): every UPDATE to `visit`; returns how many. */
export function ribAsUpdates(rib: AdjRibIn, visit: (update: Uint8Array) => void): number {
  const snap = new RibSnapshot(rib);
  let count = 0;
  try {
    for (const u of ribUpdates(snap)) {
      visit(u);
      count++;
    }
  } finally {
    snap.release();
  }
  return count;
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
