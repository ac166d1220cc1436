/**
 * Interned attribute sets (BIRD's `rta` cache): each distinct set of path attributes is
 * held once, as bytes in one arena, with a reference count; routes hold its 32-bit id. The
 * index is an open-addressing table of ids keyed by the bytes' hash. Ids are reused once
 * free. Nothing per set is a
 * JS object, so a full table's ~10^5-10^6 sets cost their bytes plus ~20.
 * The arena grows by 1 MiB chunks (never copied) and is compacted when half of it is garbage.
 */
const NONE = -1;
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;
const IN_CHUNK = CHUNK - 1;

function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}

export class AttributeStore {
  /** The arena: fixed-size chunks, so that growing never copies. */
  private chunks: Uint8Array[] = [];
  /** Where the next set goes (chunk << CHUNK_BITS | offset). */
  private used = 0;
  private garbage = 0;
  // Small to start with: a built-in collector session of a few routes carries a few sets, and
  // 1,000 such sessions each hold a store (the arrays grow by doubling).
  private offsets = new Uint32Array(32);
  private lengths = new Uint32Array(32);
  private refs = new Uint32Array(32);
  private hashes = new Uint32Array(32);
  private index = new Int32Array(64).fill(NONE);
  private freeIds: number[] = [];
  private nextId = 0;
  private live = 0;

  /** Distinct sets held. */
  get size(): number {
    return this.live;
  }

  /** Bytes held by the store's arrays. */
  get bytes(): number {
    return (
      this.chunks.length * CHUNK +
      this.offsets.byteLength * 4 +
      this.index.byteLength +
      this.freeIds.length * 8
    );
  }

  /**
   * The id of the set whose bytes are buf[start, end), added if new, with one more
   * reference (the caller's; give it back with `release`).
   */
  intern(buf: Uint8Array, start: number, end: number): number {
    const h = hashBytes(buf, start, end);
    const len = end - start;
    const mask = this.index.length - 1;
    let i = h & mask;
    for (;;) {
      const id = this.index[i] as number;
      if (id === NONE) break;
      if (this.hashes[id] === h && this.lengths[id] === len && this.equals(id, buf, start)) {
        this.refs[id] = (this.refs[id] as number) + 1;
        return id;
      }
      i = (i + 1) & mask;
    }
    const id = this.newId();
    const at = this.place(len);
    (this.chunks[at >>> CHUNK_BITS] as Uint8Array).set(buf.subarray(start, end), at & IN_CHUNK);
    this.offsets[id] = at;
    this.lengths[id] = len;
    this.hashes[id] = h;
    this.refs[id] = 1;
    this.index[i] = id;
    this.live++;
    if (this.live * 2 > this.index.length) this.rehash(this.index.length * 2);
    return id;
  }

  /** One more reference to `id`. */
  retain(id: number): void {
    this.refs[id] = (this.refs[id] as number) + 1;
  }

  /** One reference fewer; the set is dropped with its last one. */
  release(id: number): void {
    const r = (this.refs[id] as number) - 1;
    this.refs[id] = r;
    if (r > 0) return;
    this.unindex(id);
    this.garbage += this.lengths[id] as number;
    this.lengths[id] = 0;
    this.freeIds.push(id);
    this.live--;
  }

  /** References held to `id` (0 when free). */
  refCount(id: number): number {
    return this.refs[id] as number;
  }

  /** The set's bytes (a view into the arena: valid until the next `intern`). */
  get(id: number): Uint8Array {
    const o = this.offsets[id] as number;
    const within = o & IN_CHUNK;
    return (this.chunks[o >>> CHUNK_BITS] as Uint8Array).subarray(
      within,
      within + (this.lengths[id] as number),
    );
  }

  clear(): void {
    this.chunks = [];
    this.used = 0;
    this.garbage = 0;
    this.index.fill(NONE);
    this.freeIds = [];
    this.nextId = 0;
    this.live = 0;
  }

  private equals(id: number, buf: Uint8Array, start: number): boolean {
    const g = this.offsets[id] as number;
    const o = g & IN_CHUNK;
    const n = this.lengths[id] as number;
    const a = this.chunks[g >>> CHUNK_BITS] as Uint8Array;
    for (let k = 0; k < n; k++) if (a[o + k] !== buf[start + k]) return false;
    return true;
  }

  private newId(): number {
    const reused = this.freeIds.pop();
    if (reused !== undefined) return reused;
    const id = this.nextId++;
    if (id >= this.offsets.length) {
      const cap = this.offsets.length * 2;
      const grow = (a: Uint32Array) => {
        const b = new Uint32Array(cap);
        b.set(a);
        return b;
      };
      this.offsets = grow(this.offsets);
      this.lengths = grow(this.lengths);
      this.refs = grow(this.refs);
      this.hashes = grow(this.hashes);
    }
    return id;
  }

  /**
   * Room for `len` bytes: the position where they go. A set never straddles two chunks.
   * When more than half of what was used is garbage, the live sets are first copied into
   * fresh chunks (ids stay, offsets change).
   */
  private place(len: number): number {
    if (this.garbage > CHUNK && this.garbage * 2 > this.used) this.compact();
    let at = this.used;
    if ((at & IN_CHUNK) + len > CHUNK) at = ((at >>> CHUNK_BITS) + 1) << CHUNK_BITS;
    while (this.chunks.length <= at >>> CHUNK_BITS) this.chunks.push(new Uint8Array(CHUNK));
    this.used = at + len;
    return at;
  }

  private compact(): void {
    const old = this.chunks;
    this.chunks = [];
    this.used = 0;
    this.garbage = 0;
    for (let id = 0; id < this.nextId; id++) {
      if (this.refs[id] === 0) continue;
      const g = this.offsets[id] as number;
      const n = this.lengths[id] as number;
      const from = old[g >>> CHUNK_BITS] as Uint8Array;
      const at = this.place(n);
      (this.chunks[at >>> CHUNK_BITS] as Uint8Array).set(
        from.subarray(g & IN_CHUNK, (g & IN_CHUNK) + n),
        at & IN_CHUNK,
      );
      this.offsets[id] = at;
    }
  }

  private unindex(id: number): void {
    const mask = this.index.length - 1;
    let i = (this.hashes[id] as number) & mask;
    while (this.index[i] !== id) i = (i + 1) & mask;
    // Backward-shift deletion.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const other = this.index[j] as number;
      if (other === NONE) break;
      const home = (this.hashes[other] as number) & mask;
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (between) continue;
      this.index[i] = other;
      i = j;
    }
    this.index[i] = NONE;
  }

  private rehash(size: number): void {
    const index = new Int32Array(size).fill(NONE);
    const mask = size - 1;
    for (const id of this.index) {
      if (id === NONE) continue;
      let i = (this.hashes[id] as number) & mask;
      while (index[i] !== NONE) i = (i + 1) & mask;
      index[i] = id;
    }
    this.index = index;
  }
}
