import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  ErrorCode,
  UpdateErrorSubcode,
} from "./constants.ts";
import { BgpNotificationError } from "./notification-error.ts";

/**
 * Path attributes (RFC 4271 §4.3, §5): where each one sits in an UPDATE, its checks
 * and, per RFC 7606 §7 and RFC 6793 §6, what a malformed one costs: the routes
 * ("treat-as-withdraw") or only the attribute ("attribute-discard"). Errors that cost
 * the session are thrown by the UPDATE decoder instead.
 */

/** How RFC 7606 handles a malformed attribute short of resetting the session. */
export type UpdateErrorAction = "treat-as-withdraw" | "attribute-discard";

export interface UpdateProblem {
  readonly action: UpdateErrorAction;
  /** The NOTIFICATION RFC 4271 would have sent. */
  readonly error: BgpNotificationError;
}

/** One path attribute as found in an UPDATE body: its value is body[offset, offset+length). */
export interface AttributeRef {
  readonly flags: number;
  readonly type: number;
  /** Offset of the attribute's first (flags) octet in the body. */
  readonly start: number;
  /** Offset of the value in the body. */
  readonly offset: number;
  readonly length: number;
  /** False when the attribute was found malformed (its value must not be trusted). */
  readonly valid: boolean;
}

/** Expected Optional|Transitive bits of the attributes we know. */
const EXPECTED_FLAGS: Readonly<Record<number, number>> = {
  [AttrType.ORIGIN]: AttrFlag.TRANSITIVE,
  [AttrType.AS_PATH]: AttrFlag.TRANSITIVE,
  [AttrType.NEXT_HOP]: AttrFlag.TRANSITIVE,
  [AttrType.MULTI_EXIT_DISC]: AttrFlag.OPTIONAL,
  [AttrType.LOCAL_PREF]: AttrFlag.TRANSITIVE,
  [AttrType.ATOMIC_AGGREGATE]: AttrFlag.TRANSITIVE,
  [AttrType.AGGREGATOR]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.COMMUNITIES]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.ORIGINATOR_ID]: AttrFlag.OPTIONAL,
  [AttrType.CLUSTER_LIST]: AttrFlag.OPTIONAL,
  [AttrType.MP_REACH_NLRI]: AttrFlag.OPTIONAL,
  [AttrType.MP_UNREACH_NLRI]: AttrFlag.OPTIONAL,
  [AttrType.EXTENDED_COMMUNITIES]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.AS4_PATH]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.AS4_AGGREGATOR]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  [AttrType.LARGE_COMMUNITIES]: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
};

/** The flags (Optional|Transitive) RFC 4271 and successors define for `type`, if known. */
export function expectedAttributeFlags(type: number): number | undefined {
  return EXPECTED_FLAGS[type];
}

export interface AttributeCheckContext {
  readonly fourOctetAs: boolean;
  readonly external: boolean;
}

function problem(
  action: UpdateErrorAction,
  subcode: number,
  detail: string,
  data?: Uint8Array,
): UpdateProblem {
  return {
    action,
    error: new BgpNotificationError(ErrorCode.UPDATE_MESSAGE, subcode, detail, data),
  };
}

/** The whole attribute (header and value), copied: a NOTIFICATION's data. */
export function rawAttribute(body: Uint8Array, ref: Omit<AttributeRef, "valid">): Uint8Array {
  return body.slice(ref.start, ref.offset + ref.length);
}

/** Attribute Length Error (3/5) for `ref`, with the whole attribute as its data. */
function lengthError(
  action: UpdateErrorAction,
  body: Uint8Array,
  ref: Omit<AttributeRef, "valid">,
): UpdateProblem {
  return problem(
    action,
    UpdateErrorSubcode.ATTRIBUTE_LENGTH_ERROR,
    `attribute ${ref.type} has length ${ref.length}`,
    rawAttribute(body, ref),
  );
}

/**
 * Check one attribute other than MP_REACH/MP_UNREACH (the UPDATE decoder owns those).
 * Returns the RFC 7606 problem, or undefined when the attribute is fine. Throws
 * Unrecognized Well-known Attribute (3/2), which still resets the session. It runs for every
 * attribute of every UPDATE the collector receives: no closures in it (the engine's lower tiers
 * would allocate them, and the scope they capture, on every call).
 */
export function checkAttribute(
  body: Uint8Array,
  ref: Omit<AttributeRef, "valid">,
  ctx: AttributeCheckContext,
): UpdateProblem | undefined {
  const { type, flags, offset: v, length: len } = ref;
  const expected = EXPECTED_FLAGS[type];
  const as4 = type === AttrType.AS4_PATH || type === AttrType.AS4_AGGREGATOR;
  if (expected === undefined) {
    if ((flags & AttrFlag.OPTIONAL) === 0) {
      throw new BgpNotificationError(
        ErrorCode.UPDATE_MESSAGE,
        UpdateErrorSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
        `unrecognized well-known attribute ${type}`,
        rawAttribute(body, ref),
      );
    }
    return undefined;
  }
  if ((flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== expected) {
    return problem(
      as4 ? "attribute-discard" : "treat-as-withdraw",
      UpdateErrorSubcode.ATTRIBUTE_FLAGS_ERROR,
      `attribute ${type} has flags 0x${flags.toString(16)}`,
      rawAttribute(body, ref),
    );
  }
  switch (type) {
    case AttrType.ORIGIN:
      if (len !== 1) return lengthError("treat-as-withdraw", body, ref);
      if ((body[v] as number) > 2) {
        return problem(
          "treat-as-withdraw",
          UpdateErrorSubcode.INVALID_ORIGIN_ATTRIBUTE,
          `ORIGIN value ${body[v]}`,
          rawAttribute(body, ref),
        );
      }
      return undefined;
    case AttrType.AS_PATH: {
      const why = checkAsPath(body, v, v + len, ctx.fourOctetAs ? 4 : 2, ctx.external);
      return why === undefined
        ? undefined
        : problem("treat-as-withdraw", UpdateErrorSubcode.MALFORMED_AS_PATH, `AS_PATH ${why}`);
    }
    case AttrType.NEXT_HOP:
    case AttrType.MULTI_EXIT_DISC:
    case AttrType.LOCAL_PREF:
    case AttrType.ORIGINATOR_ID:
      return len === 4 ? undefined : lengthError("treat-as-withdraw", body, ref);
    case AttrType.ATOMIC_AGGREGATE:
      return len === 0 ? undefined : lengthError("attribute-discard", body, ref);
    case AttrType.AGGREGATOR:
      return len === (ctx.fourOctetAs ? 8 : 6)
        ? undefined
        : lengthError("attribute-discard", body, ref);
    case AttrType.COMMUNITIES:
    case AttrType.CLUSTER_LIST:
      return len > 0 && len % 4 === 0 ? undefined : lengthError("treat-as-withdraw", body, ref);
    case AttrType.EXTENDED_COMMUNITIES:
      return len > 0 && len % 8 === 0 ? undefined : lengthError("treat-as-withdraw", body, ref);
    case AttrType.LARGE_COMMUNITIES:
      return len > 0 && len % 12 === 0 ? undefined : lengthError("treat-as-withdraw", body, ref);
    case AttrType.AS4_PATH: {
      const why = checkAsPath(body, v, v + len, 4, true);
      return why === undefined
        ? undefined
        : problem("attribute-discard", UpdateErrorSubcode.MALFORMED_AS_PATH, `AS4_PATH ${why}`);
    }
    case AttrType.AS4_AGGREGATOR:
      return len === 8 ? undefined : lengthError("attribute-discard", body, ref);
    default:
      return undefined;
  }
}

/**
 * Check AS_PATH segments in buf[start, end) with `asSize`-octet ASNs. Returns why it is
 * malformed (RFC 7606 §7.2, RFC 7607 AS 0), or undefined. `noConfed` rejects
 * AS_CONFED_* segments (an external peer, or AS4_PATH).
 */
export function checkAsPath(
  buf: Uint8Array,
  start: number,
  end: number,
  asSize: 2 | 4,
  noConfed: boolean,
): string | undefined {
  let pos = start;
  while (pos < end) {
    if (pos + 2 > end) return "truncated segment header";
    const type = buf[pos] as number;
    const count = buf[pos + 1] as number;
    if (type < AsPathSegmentType.AS_SET || type > AsPathSegmentType.AS_CONFED_SET) {
      return `segment type ${type}`;
    }
    if (noConfed && type >= AsPathSegmentType.AS_CONFED_SEQUENCE) {
      return "has a confederation segment";
    }
    if (count === 0) return "has an empty segment";
    pos += 2;
    const segEnd = pos + count * asSize;
    if (segEnd > end) return "segment overruns the attribute";
    for (; pos < segEnd; pos += asSize) {
      const zero =
        buf[pos] === 0 &&
        buf[pos + 1] === 0 &&
        (asSize === 2 || (buf[pos + 2] === 0 && buf[pos + 3] === 0));
      if (zero) return "contains AS 0";
    }
  }
  return undefined;
}

export interface AsPathSegment {
  /** AsPathSegmentType: 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET. */
  readonly type: number;
  readonly asns: number[];
}

/**
 * Decode AS_PATH (or AS4_PATH, with asSize 4) segments. The value must have passed
 * `checkAsPath`; a truncated tail is ignored.
 */
export function decodeAsPath(value: Uint8Array, asSize: 2 | 4): AsPathSegment[] {
  const segments: AsPathSegment[] = [];
  let pos = 0;
  while (pos + 2 <= value.length) {
    const type = value[pos] as number;
    const count = value[pos + 1] as number;
    pos += 2;
    const asns: number[] = [];
    for (let i = 0; i < count && pos + asSize <= value.length; i++, pos += asSize) {
      asns.push(
        asSize === 4
          ? (value[pos] as number) * 0x1000000 +
              (((value[pos + 1] as number) << 16) |
                ((value[pos + 2] as number) << 8) |
                (value[pos + 3] as number))
          : ((value[pos] as number) << 8) | (value[pos + 1] as number),
      );
    }
    segments.push({ type, asns });
  }
  return segments;
}

/** Every ASN of the segments, in order (AS_SET members included as listed). */
export function flattenAsPath(segments: readonly AsPathSegment[]): number[] {
  const out: number[] = [];
  for (const s of segments) for (const a of s.asns) out.push(a);
  return out;
}
