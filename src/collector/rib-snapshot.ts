import type { AdjRibIn } from "./adj-rib-in.ts";
import type { PrefixMap } from "./prefix-map.ts";

/**
 * A point-in-time copy of an Adj-RIB-In's routes, so that a long reader (an MRT dump, a BMP
 * station's resync) can go at its own pace while the RIB keeps changing: the prefixes are
 * copied into typed arrays (about 22 bytes a route) and every route's attribute set is
 * retained in the RIB's store until `release`. When the session ends meanwhile (`clear`),
 * the snapshot goes stale: `valid` turns false and readers stop.
 */
export class RibSnapshot {
  readonly count: number;
  /** Routes 0..ipv4Count-1 are IPv4, the rest IPv6. */
  readonly ipv4Count: number;
  private readonly lengths: Uint8Array;
  private readonly keys: Uint32Array;
  private readonly attrs: Uint32Array;
  private readonly epoch: number;
  private released = false;

  constructor(private readonly rib: AdjRibIn) {
    this.ipv4Count = rib.v4.size;
    this.count = rib.v4.size + rib.v6.size;
    this.lengths = new Uint8Array(this.count);
    this.keys = new Uint32Array(this.count * 4);
    this.attrs = new Uint32Array(this.count);
    this.epoch = rib.epoch;
    let i = 0;
    const copy = (map: PrefixMap) =>
      map.forEachSlot((slot) => {
        this.lengths[i] = map.slotLength(slot);
        this.keys.set(map.slotKey(slot), i * 4);
        const id = map.slotValue(slot);
        this.attrs[i] = id;
        rib.attributes.retain(id);
        i++;
      });
    copy(rib.v4);
    copy(rib.v6);
  }

  /** The RIB still holds what this snapshot refers to. */
  get valid(): boolean {
    return !this.released && this.rib.epoch === this.epoch;
  }

  isV6(i: number): boolean {
    return i >= this.ipv4Count;
  }

  length(i: number): number {
    return this.lengths[i] as number;
  }

  attributeId(i: number): number {
    return this.attrs[i] as number;
  }

  /** Route i's stored attribute set (see stored-attributes.ts). */
  attributes(i: number): Uint8Array {
    return this.rib.attributes.get(this.attrs[i] as number);
  }

  /** Write route i's prefix octets (16, big-endian, host bits clear) into `out`. */
  prefix(i: number, out: Uint8Array): void {
    for (let w = 0; w < 4; w++) {
      const x = this.keys[i * 4 + w] as number;
      out[w * 4] = x >>> 24;
      out[w * 4 + 1] = (x >>> 16) & 255;
      out[w * 4 + 2] = (x >>> 8) & 255;
      out[w * 4 + 3] = x & 255;
    }
  }

  /** Route indices of one family ordered by attribute set (routes sharing one are adjacent). */
  byAttributes(v6: boolean): Uint32Array {
    const from = v6 ? this.ipv4Count : 0;
    const to = v6 ? this.count : this.ipv4Count;
    const order = new Float64Array(to - from);
    // id * 2^22 + index: exact in a double for ids < 2^31 and up to 4M routes per family.
    for (let i = from; i < to; i++)
      order[i - from] = (this.attrs[i] as number) * 4194304 + (i - from);
    order.sort();
    const out = new Uint32Array(order.length);
    for (let k = 0; k < order.length; k++) out[k] = from + ((order[k] as number) % 4194304);
    return out;
  }

  /** Give the attribute sets back (idempotent; nothing to give after the session ended). */
  release(): void {
    if (this.released) return;
    const valid = this.rib.epoch === this.epoch;
    this.released = true;
    if (!valid) return;
    for (let i = 0; i < this.count; i++) this.rib.attributes.release(this.attrs[i] as number);
  }
}
