/**
 * Bun's TOML parser needs about 20 bytes of memory per byte of text while it works: a
 * 100,000-device gateway file (11 MB) peaked at 330 MB. So a long array of tables
 * ([[device]] ...) is parsed a slice of entries at a time and the slices are joined, which
 * keeps the peak near what the result itself needs.
 *
 * Splitting never changes the meaning of a file: it only cuts before a line that is
 * exactly the array's header, outside multi-line strings; a slice that does not parse, or
 * whose keys would collide with another slice's (the one thing a single parse would judge
 * differently), makes the whole text be parsed in one go instead, so every error and every
 * odd but valid file gets exactly the single parse's answer.
 */

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Line offsets where a slice may start: before every `[[key]]` header line. */
function headerOffsets(text: string, key: string): number[] {
  const header = new RegExp(`^[ \\t]*\\[\\[[ \\t]*${key}[ \\t]*\\]\\][ \\t]*(#.*)?\\r?$`);
  const offsets: number[] = [];
  let openString: string | undefined;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    if (openString === undefined && header.test(line)) offsets.push(at);
    // Multi-line strings: an odd number of delimiters on a line opens or closes one.
    for (const quotes of ['"""', "'''"]) {
      if (openString !== undefined && openString !== quotes) continue;
      if (line.split(quotes).length % 2 === 0) openString = openString ? undefined : quotes;
    }
    at = end + 1;
  }
  return offsets;
}

/** Joins slice `part` into `root`; false when a single parse might have judged otherwise. */
function join(root: Table, part: Table, key: string): boolean {
  for (const [k, v] of Object.entries(part)) {
    const mine = root[k];
    if (mine === undefined) {
      root[k] = v;
    } else if (k === key && Array.isArray(mine) && Array.isArray(v)) {
      for (const entry of v) mine.push(entry);
    } else {
      return false;
    }
  }
  return true;
}

/**
 * Parses `text` with `parse`, in slices of `perSlice` `[[key]]` entries when that is
 * safe, and replaces each entry of the `key` array with `mapEntry(entry, index)` (index
 * from 0, in file order) as soon as its slice is parsed; `afterSlice` runs between slices
 * (the gateway asks for a quick garbage collection there: without it, the dead slices
 * pile up and the peak grows by ~40 MB per 100,000 entries). Throws whatever `parse` throws
 * for the whole text, and whatever `mapEntry` throws.
 */
export function parseTomlInSlices(
  text: string,
  parse: (text: string) => unknown,
  key: string,
  mapEntry: (entry: unknown, index: number) => unknown = (entry) => entry,
  afterSlice: () => void = () => {},
  perSlice = 1000,
): unknown {
  let mapped = 0;
  const mapAll = (entries: unknown[]) => {
    for (let i = 0; i < entries.length; i++) entries[i] = mapEntry(entries[i], mapped++);
  };
  const whole = (): unknown => {
    mapped = 0;
    const root = parse(text);
    if (isTable(root) && Array.isArray(root[key])) mapAll(root[key]);
    return root;
  };
  const offsets = headerOffsets(text, key);
  if (offsets.length <= perSlice) return whole();
  const cuts = [0];
  for (let i = 0; i < offsets.length; i += perSlice) cuts.push(offsets[i] as number);
  cuts.push(text.length);
  const root: Table = {};
  for (let i = 0; i + 1 < cuts.length; i++) {
    let part: unknown;
    try {
      part = parse(text.slice(cuts[i], cuts[i + 1]));
    } catch {
      return whole();
    }
    // Appending [[key]] entries to an array the head defined inline is an error in TOML.
    const appendsToInline = i === 1 && root[key] !== undefined;
    if (!isTable(part) || appendsToInline) return whole();
    // Entries are mapped slice by slice, so that the raw tables of a slice die young.
    const entries = i > 0 ? part[key] : undefined;
    if (Array.isArray(entries)) mapAll(entries);
    if (!join(root, part, key)) return whole();
    afterSlice();
  }
  return root;
}
