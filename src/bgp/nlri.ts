import type { ByteWriter } from "./byte-writer.ts";
import { type Afi, ErrorCode, UpdateErrorSubcode } from "./constants.ts";
import { BgpNotificationError } from "./notification-error.ts";
import { maxPrefixLength, type Prefix } from "./prefix.ts";

/**
 * NLRI as a run of (length, prefix octets) entries, optionally each preceded by a
 * 4-octet Path Identifier (RFC 7911 ADD-PATH). Two passes: `countNlri` validates and
 * counts; `forEachNlri` hands each prefix to a visitor without allocating per prefix.
 */

/**
 * Receives one prefix: its `ceil(length/8)` octets start at `buf[offset]`; bits past
 * `length` may be non-zero and must be ignored. `pathId` is 0 without ADD-PATH.
 */
export type PrefixVisitor = (
  afi: Afi,
  safi: number,
  length: number,
  buf: Uint8Array,
  offset: number,
  pathId: number,
) => void;

/**
 * Validate NLRI in `buf[start, end)` and return how many prefixes it holds. A prefix
 * length beyond 32/128 or a prefix running past `end` → Invalid Network Field (3/10).
 */
export function countNlri(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: Afi,
  addPath: boolean,
): number {
  const max = maxPrefixLength(afi);
  let pos = start;
  let count = 0;
  while (pos < end) {
    if (addPath) {
      if (pos + 4 >= end) throw invalidNetwork("truncated path identifier");
      pos += 4;
    }
    const length = buf[pos] as number;
    if (length > max) throw invalidNetwork(`prefix length ${length} exceeds ${max}`);
    pos += 1 + ((length + 7) >>> 3);
    if (pos > end) throw invalidNetwork("prefix runs past the end of its field");
    count++;
  }
  return count;
}

/** Visit every prefix of NLRI already validated by `countNlri`. */
export function forEachNlri(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: Afi,
  safi: number,
  addPath: boolean,
  visit: PrefixVisitor,
): void {
  let pos = start;
  while (pos < end) {
    let pathId = 0;
    if (addPath) {
      pathId =
        (buf[pos] as number) * 0x1000000 +
        (((buf[pos + 1] as number) << 16) |
          ((buf[pos + 2] as number) << 8) |
          (buf[pos + 3] as number));
      pos += 4;
    }
    const length = buf[pos] as number;
    visit(afi, safi, length, buf, pos + 1, pathId);
    pos += 1 + ((length + 7) >>> 3);
  }
}

/** Append one prefix in NLRI encoding (with a Path Identifier when `pathId` is given). */
export function writeNlri(w: ByteWriter, prefix: Prefix, pathId?: number): void {
  if (pathId !== undefined) w.u32(pathId);
  w.u8(prefix.length);
  w.bytes(prefix.bytes.subarray(0, (prefix.length + 7) >>> 3));
}

function invalidNetwork(detail: string): BgpNotificationError {
  return new BgpNotificationError(
    ErrorCode.UPDATE_MESSAGE,
    UpdateErrorSubcode.INVALID_NETWORK_FIELD,
    detail,
  );
}
