/**
 * Byte-level mutations, AFL-style: flip bits, set interesting values (also as 16-bit
 * big-endian lengths, which BGP and protobuf both live on), insert, delete, duplicate and
 * splice with another corpus input, insert dictionary tokens. Deterministic for a seed.
 */
const INTERESTING_8 = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x13, 0x40, 0xc0];
const INTERESTING_16 = [
  0x0000, 0x0001, 0x0013, 0x0017, 0x001d, 0x0fff, 0x1000, 0x7fff, 0x8000, 0xffff,
];
/** Largest input a mutation may produce: BGP's 4096 + slack, TOML seeds are bigger. */
const MAX_LENGTH = 64 * 1024;

export class Mutator {
  constructor(
    private readonly random: () => number,
    private readonly dictionary: readonly Uint8Array[] = [],
  ) {}

  private below(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }

  /** One to eight stacked mutations of `input`; `other` is another corpus entry to splice. */
  mutate(input: Uint8Array, other?: Uint8Array): Uint8Array {
    let out = input;
    const rounds = 1 << this.below(4);
    for (let i = 0; i < rounds; i++) out = this.once(out, other);
    return out.length > MAX_LENGTH ? out.subarray(0, MAX_LENGTH) : out;
  }

  private once(input: Uint8Array, other?: Uint8Array): Uint8Array {
    const n = input.length;
    const at = () => this.below(Math.max(n, 1));
    switch (this.below(10)) {
      case 0: {
        if (n === 0) return input;
        const out = input.slice();
        const bit = this.below(n * 8);
        out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
        return out;
      }
      case 1: {
        if (n === 0) return input;
        const out = input.slice();
        out[at()] = this.pick(INTERESTING_8);
        return out;
      }
      case 2: {
        if (n < 2) return input;
        const out = input.slice();
        const i = this.below(n - 1);
        const v = this.pick(INTERESTING_16);
        out[i] = v >> 8;
        out[i + 1] = v & 0xff;
        return out;
      }
      case 3: {
        if (n === 0) return input;
        const out = input.slice();
        out[at()] = this.below(256);
        return out;
      }
      case 4: {
        // Add or subtract a little from a byte (off-by-one lengths).
        if (n === 0) return input;
        const out = input.slice();
        const i = at();
        out[i] = ((out[i] as number) + this.pick([-2, -1, 1, 2, 16, -16])) & 0xff;
        return out;
      }
      case 5: {
        // Delete a block.
        if (n < 2) return input;
        const from = this.below(n);
        const len = 1 + this.below(Math.min(32, n - from));
        return concat(input.subarray(0, from), input.subarray(from + len));
      }
      case 6: {
        // Duplicate a block.
        if (n === 0) return input;
        const from = this.below(n);
        const len = 1 + this.below(Math.min(64, n - from));
        const to = this.below(n + 1);
        return concat(input.subarray(0, to), input.subarray(from, from + len), input.subarray(to));
      }
      case 7: {
        // Insert random bytes.
        const to = this.below(n + 1);
        const extra = Uint8Array.from({ length: 1 + this.below(8) }, () => this.below(256));
        return concat(input.subarray(0, to), extra, input.subarray(to));
      }
      case 8: {
        // Splice with another input.
        if (!other || other.length === 0) return input;
        const cut = this.below(n + 1);
        const from = this.below(other.length);
        return concat(input.subarray(0, cut), other.subarray(from));
      }
      default: {
        // Insert or overwrite with a dictionary token.
        if (this.dictionary.length === 0) return input;
        const token = this.pick(this.dictionary);
        const to = this.below(n + 1);
        if (this.below(2) === 0 || to + token.length > n) {
          return concat(input.subarray(0, to), token, input.subarray(to));
        }
        const out = input.slice();
        out.set(token, to);
        return out;
      }
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
