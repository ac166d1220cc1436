import type { AfiSafi } from "./capability.ts";
import { Afi, AttrType, ErrorCode, Safi, UpdateErrorSubcode } from "./constants.ts";
import { countNlri } from "./nlri.ts";
import { BgpNotificationError } from "./notification-error.ts";
import { type AttributeRef, rawAttribute } from "./path-attribute.ts";

/** The RFC 4760 multiprotocol attributes MP_REACH_NLRI and MP_UNREACH_NLRI. */

/** MP_REACH_NLRI or MP_UNREACH_NLRI as located in the body. */
export interface MpNlriRef extends AfiSafi {
  /** NLRI occupy body[start, end). */
  readonly start: number;
  readonly end: number;
  /** Prefix count; 0 when the family is not one this decoder parses. */
  readonly count: number;
  /** True for IPv4/IPv6 unicast/multicast, whose NLRI this decoder walks. */
  readonly parsed: boolean;
  /** MP_REACH only: the next hop occupies body[nextHopStart, +nextHopLength). */
  readonly nextHopStart: number;
  readonly nextHopLength: number;
}

/** Whether this decoder walks NLRI of the family (plain prefixes). */
export function isPrefixFamily(afi: number, safi: number): boolean {
  return (
    (afi === Afi.IPV4 || afi === Afi.IPV6) && (safi === Safi.UNICAST || safi === Safi.MULTICAST)
  );
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);

function updateError(subcode: number, detail: string, data?: Uint8Array): BgpNotificationError {
  return new BgpNotificationError(ErrorCode.UPDATE_MESSAGE, subcode, detail, data);
}

/** Next hop lengths RFC 4760 / RFC 2545 / RFC 8950 allow for a prefix family. */
function nextHopLengthOk(afi: number, len: number): boolean {
  return afi === Afi.IPV6 ? len === 16 || len === 32 : len === 4 || len === 16 || len === 32;
}

/** An MP_REACH/MP_UNREACH error (3/9) carrying the whole attribute. */
function mpError(
  name: string,
  body: Uint8Array,
  ref: Omit<AttributeRef, "valid">,
  detail: string,
): Error {
  return updateError(
    UpdateErrorSubcode.OPTIONAL_ATTRIBUTE_ERROR,
    `${name} ${detail}`,
    rawAttribute(body, ref),
  );
}

/**
 * Locate and validate MP_REACH_NLRI / MP_UNREACH_NLRI. Anything that keeps its NLRI
 * from being parsed resets the session (RFC 7606 §5.3, §7.11): Optional Attribute
 * Error (3/9) for the structure, Invalid Network Field (3/10) for the prefixes.
 */
export function decodeMpNlri(
  body: Uint8Array,
  ref: Omit<AttributeRef, "valid">,
  addPath: boolean,
): MpNlriRef {
  const { type, offset: v, length: len } = ref;
  const reach = type === AttrType.MP_REACH_NLRI;
  const name = reach ? "MP_REACH_NLRI" : "MP_UNREACH_NLRI";
  if (len < (reach ? 5 : 3)) throw mpError(name, body, ref, `of length ${len}`);
  const afi = u16(body, v);
  const safi = body[v + 2] as number;
  let nextHopStart = 0;
  let nextHopLength = 0;
  let start = v + 3;
  if (reach) {
    nextHopLength = body[v + 3] as number;
    nextHopStart = v + 4;
    start = nextHopStart + nextHopLength + 1; // + Reserved octet
    if (start > v + len)
      throw mpError(name, body, ref, `next hop length ${nextHopLength} overruns the attribute`);
  }
  const end = v + len;
  const parsed = isPrefixFamily(afi, safi);
  if (parsed && reach && !nextHopLengthOk(afi, nextHopLength)) {
    throw mpError(name, body, ref, `next hop length ${nextHopLength} for AFI ${afi}`);
  }
  const count = parsed ? countNlri(body, start, end, afi as Afi, addPath) : 0;
  return { afi, safi, start, end, count, parsed, nextHopStart, nextHopLength };
}
