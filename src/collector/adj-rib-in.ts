import { Afi, Safi } from "../bgp/constants.ts";
import type { PrefixVisitor } from "../bgp/nlri.ts";
import { parsePrefix } from "../bgp/prefix.ts";
import { applyUpdate, type DecodedUpdate } from "../bgp/update.ts";
import { AttributeStore } from "./attribute-store.ts";
import { maskWord, PrefixMap } from "./prefix-map.ts";
import { buildStoredAttributes, Scratch } from "./stored-attributes.ts";

/**
 * One peer's Adj-RIB-In (RFC 4271 §3.2) for IPv4 and IPv6 unicast: every prefix the peer
 * announces now, with the attribute set it came with. Fed decoded UPDATEs; no I/O, no
 * clock. A new announcement replaces the prefix's route, a withdrawal removes it, an
 * UPDATE to be treated as withdraw (RFC 7606) removes its announced prefixes, `clear`
 * (the session ended) empties it. End-of-RIB marks a family complete.
 *
 * Memory: a route is one slot of a PrefixMap (see there) holding the id of an interned
 * attribute set (AttributeStore); sets are shared by every route that carries them.
 */
export type Family = "ipv4" | "ipv6";

/** A route as read back: prefix text and the id of its attribute set. */
export interface RibEntry {
  readonly prefix: string;
  readonly attrs: number;
}

export class AdjRibIn {
  readonly attributes = new AttributeStore();
  readonly v4 = new PrefixMap(1);
  readonly v6 = new PrefixMap(4);
  readonly endOfRib: Record<Family, boolean> = { ipv4: false, ipv6: false };
  /** Bumped on every change (for snapshots and feeds that want to know). */
  version = 0;
  /** Bumped by `clear`: attribute ids of an older epoch mean nothing any more. */
  epoch = 0;
  private readonly scratch = new Scratch();
  /** Attribute set of the UPDATE being applied, per NLRI source (-1: not made yet). */
  private plainSet = -1;
  private mpSet = -1;
  private current: DecodedUpdate | undefined;

  private readonly sink: { announce: PrefixVisitor; withdraw: PrefixVisitor } = {
    announce: (afi, safi, length, buf, offset) => {
      if (safi !== Safi.UNICAST) return;
      const map = afi === Afi.IPV4 ? this.v4 : this.v6;
      const id = this.setFor(offset);
      map.loadKey(length, buf, offset);
      this.attributes.retain(id);
      const old = map.set(length, id);
      if (old >= 0) this.attributes.release(old);
    },
    withdraw: (afi, safi, length, buf, offset) => {
      if (safi !== Safi.UNICAST) return;
      const map = afi === Afi.IPV4 ? this.v4 : this.v6;
      map.loadKey(length, buf, offset);
      const old = map.delete(length);
      if (old >= 0) this.attributes.release(old);
    },
  };

  /** Routes held: IPv4, IPv6. */
  get counts(): Record<Family, number> {
    return { ipv4: this.v4.size, ipv6: this.v6.size };
  }

  /** Bytes the RIB's arrays take (the prefix maps and the attribute store). */
  get bytes(): number {
    return this.v4.bytes + this.v6.bytes + this.attributes.bytes;
  }

  /** Apply one decoded UPDATE (unicast IPv4/IPv6 only; other families are ignored). */
  apply(update: DecodedUpdate): void {
    this.current = update;
    this.plainSet = -1;
    this.mpSet = -1;
    try {
      applyUpdate(update, this.sink);
    } finally {
      // Drop the reference `intern` gave the UPDATE itself.
      if (this.plainSet >= 0) this.attributes.release(this.plainSet);
      if (this.mpSet >= 0) this.attributes.release(this.mpSet);
      this.current = undefined;
    }
    const eor = update.endOfRib;
    if (eor && eor.safi === Safi.UNICAST) {
      if (eor.afi === Afi.IPV4) this.endOfRib.ipv4 = true;
      else if (eor.afi === Afi.IPV6) this.endOfRib.ipv6 = true;
    }
    this.version++;
  }

  /** The session is over: no routes, no End-of-RIB. */
  clear(): void {
    this.v4.clear();
    this.v6.clear();
    this.attributes.clear();
    this.endOfRib.ipv4 = false;
    this.endOfRib.ipv6 = false;
    this.version++;
    this.epoch++;
  }

  /** The attribute set of the prefix announced at body[offset]: MP_REACH's or the plain one. */
  private setFor(offset: number): number {
    const update = this.current as DecodedUpdate;
    const mp = update.mpReach;
    if (mp && offset >= mp.start && offset < mp.end) {
      if (this.mpSet < 0) {
        const n = buildStoredAttributes(update, mp.nextHopStart, mp.nextHopLength, this.scratch);
        this.mpSet = this.attributes.intern(this.scratch.buf, 0, n);
      }
      return this.mpSet;
    }
    if (this.plainSet < 0) {
      const n = buildStoredAttributes(update, 0, 0, this.scratch);
      this.plainSet = this.attributes.intern(this.scratch.buf, 0, n);
    }
    return this.plainSet;
  }

  /** Map and key for a prefix text; throws a config error for bad text. */
  private load(prefix: string): { map: PrefixMap; length: number } {
    const p = parsePrefix(prefix);
    const map = p.afi === Afi.IPV4 ? this.v4 : this.v6;
    map.loadKey(p.length, p.bytes, 0);
    return { map, length: p.length };
  }

  /** The route for exactly `prefix` ("10.0.0.0/8"), if held. */
  exact(prefix: string): RibEntry | undefined {
    const { map, length } = this.load(prefix);
    const id = map.get(length);
    return id < 0 ? undefined : { prefix: prefixText(map, map.key, length), attrs: id };
  }

  /** The most specific route covering `prefix` (or an address), if any. */
  longest(prefix: string): RibEntry | undefined {
    const { map, length } = this.load(prefix);
    const slot = map.longestMatch(length);
    return slot < 0 ? undefined : slotEntry(map, slot);
  }

  /** Every route inside `prefix` (itself included). */
  longer(prefix: string, limit = Number.POSITIVE_INFINITY): RibEntry[] {
    const { map, length } = this.load(prefix);
    const out: RibEntry[] = [];
    for (const slot of map.within(length)) {
      if (out.length >= limit) break;
      out.push(slotEntry(map, slot));
    }
    return out;
  }
}

/** "a.b.c.d/len" or an IPv6 text for a prefix map's key words. */
export function prefixText(map: PrefixMap, key: Uint32Array, length: number): string {
  if (map.words === 1) {
    const a = key[0] as number;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${length}`;
  }
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const v = ((key[w] as number) & maskWord(128, w)) >>> 0;
    groups.push((v >>> 16).toString(16), (v & 0xffff).toString(16));
  }
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text =
    best < 0
      ? groups.join(":")
      : `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
  return `${text}/${length}`;
}

function slotEntry(map: PrefixMap, slot: number): RibEntry {
  return {
    prefix: prefixText(map, map.slotKey(slot), map.slotLength(slot)),
    attrs: map.slotValue(slot),
  };
}
