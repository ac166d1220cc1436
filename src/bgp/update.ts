import type { AfiSafi } from "./capability.ts";
import { Afi, AttrFlag, AttrType, ErrorCode, Safi, UpdateErrorSubcode } from "./constants.ts";
import { decodeMpNlri, type MpNlriRef } from "./mp-nlri.ts";
import { countNlri, forEachNlri, type PrefixVisitor } from "./nlri.ts";
import { BgpNotificationError } from "./notification-error.ts";
import {
  type AttributeRef,
  checkAttribute,
  expectedAttributeFlags,
  type UpdateProblem,
} from "./path-attribute.ts";
import { prefixToString } from "./prefix.ts";

/**
 * UPDATE decoding (RFC 4271 §4.3, RFC 4760, RFC 7606) in two steps: `decodeUpdate`
 * validates the message and locates its parts without allocating per prefix; the
 * visitors then walk the prefixes. Errors that cost the session are thrown as
 * BgpNotificationError; the rest are reported in `problems`, and `treatAsWithdraw`
 * says the announced routes must be handled as withdrawn.
 */

export interface UpdateDecodeOptions {
  /** RFC 6793 4-octet AS numbers negotiated: AS_PATH carries 4-octet ASNs. */
  fourOctetAs: boolean;
  /** RFC 7911 ADD-PATH receive negotiated: NLRI of that family carry path identifiers. */
  addPath?: { ipv4?: boolean; ipv6?: boolean };
  /** The peer is external (eBGP): AS_CONFED segments in AS_PATH are malformed. */
  external?: boolean;
  /** "rfc7606" (default) reports recoverable errors; "rfc4271" throws the first one. */
  errorHandling?: "rfc7606" | "rfc4271";
}

export interface DecodedUpdate {
  readonly body: Uint8Array;
  readonly options: UpdateDecodeOptions;
  /** IPv4 Withdrawn Routes field: body[withdrawnStart, withdrawnEnd). */
  readonly withdrawnStart: number;
  readonly withdrawnEnd: number;
  readonly withdrawnCount: number;
  /** IPv4 NLRI field: body[nlriStart, nlriEnd). */
  readonly nlriStart: number;
  readonly nlriEnd: number;
  readonly nlriCount: number;
  /** Attributes in order; later duplicates are dropped (RFC 7606 §3.g). */
  readonly attributes: AttributeRef[];
  readonly mpReach?: MpNlriRef;
  readonly mpUnreach?: MpNlriRef;
  /** Set when this UPDATE is an End-of-RIB marker (RFC 4724). */
  readonly endOfRib?: AfiSafi;
  /** RFC 7606: every announced prefix must be handled as withdrawn. */
  readonly treatAsWithdraw: boolean;
  readonly problems: UpdateProblem[];
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);

function updateError(subcode: number, detail: string, data?: Uint8Array): BgpNotificationError {
  return new BgpNotificationError(ErrorCode.UPDATE_MESSAGE, subcode, detail, data);
}

function addPathFor(options: UpdateDecodeOptions, afi: number): boolean {
  return (afi === Afi.IPV4 ? options.addPath?.ipv4 : options.addPath?.ipv6) ?? false;
}

/**
 * Validate an UPDATE body (the message after its header) and locate its parts.
 * Throws BgpNotificationError for what RFC 7606 still answers with a session reset:
 * field lengths that overrun the message (3/1), bad prefixes (3/10), MP_REACH/
 * MP_UNREACH that cannot be parsed (3/9) or appear twice (3/1), unrecognized
 * well-known attributes (3/2).
 */
export function decodeUpdate(body: Uint8Array, options: UpdateDecodeOptions): DecodedUpdate {
  const n = body.length;
  if (n < 4) throw updateError(UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST, "UPDATE too short");
  const withdrawnLen = u16(body, 0);
  const withdrawnStart = 2;
  const withdrawnEnd = withdrawnStart + withdrawnLen;
  if (withdrawnEnd + 2 > n) {
    throw updateError(
      UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
      `withdrawn routes length ${withdrawnLen} overruns the message`,
    );
  }
  const attrLen = u16(body, withdrawnEnd);
  const attrStart = withdrawnEnd + 2;
  const attrEnd = attrStart + attrLen;
  if (attrEnd > n) {
    throw updateError(
      UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
      `total path attribute length ${attrLen} overruns the message`,
    );
  }
  const withdrawnCount = countNlri(
    body,
    withdrawnStart,
    withdrawnEnd,
    Afi.IPV4,
    addPathFor(options, Afi.IPV4),
  );
  const nlriStart = attrEnd;
  const nlriEnd = n;

  const ctx = { fourOctetAs: options.fourOctetAs, external: options.external ?? false };
  const attributes: AttributeRef[] = [];
  const problems: UpdateProblem[] = [];
  let framing: UpdateProblem | undefined;
  let mpReach: MpNlriRef | undefined;
  let mpUnreach: MpNlriRef | undefined;
  SEEN.fill(0);
  let pos = attrStart;
  while (pos < attrEnd) {
    const flags = body[pos] as number;
    const headerLen = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    if (pos + headerLen > attrEnd) {
      framing = framingProblem("attribute header truncated");
      break;
    }
    const type = body[pos + 1] as number;
    const length = headerLen === 4 ? u16(body, pos + 2) : (body[pos + 2] as number);
    const offset = pos + headerLen;
    if (offset + length > attrEnd) {
      framing = framingProblem(`attribute ${type} of length ${length} overruns the list`);
      break;
    }
    const start = pos;
    pos = offset + length;
    const duplicate = markSeen(type);
    // One object per attribute, pushed as it is (no spread copy: this runs per UPDATE).
    const ref = { flags, type, start, offset, length, valid: true };
    if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) {
      if (duplicate) {
        throw updateError(
          UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
          `attribute ${type} repeated`,
        );
      }
      const mp = decodeMpNlri(body, ref, addPathFor(options, u16(body, ref.offset)));
      if (type === AttrType.MP_REACH_NLRI) mpReach = mp;
      else mpUnreach = mp;
      const flagsOk =
        (flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) === expectedAttributeFlags(type);
      if (!flagsOk) {
        problems.push({
          action: "treat-as-withdraw",
          error: updateError(
            UpdateErrorSubcode.ATTRIBUTE_FLAGS_ERROR,
            `attribute ${type} has flags 0x${flags.toString(16)}`,
            body.slice(start, pos),
          ),
        });
      }
      ref.valid = flagsOk;
      attributes.push(ref);
      continue;
    }
    if (duplicate) {
      problems.push({
        action: "attribute-discard",
        error: updateError(
          UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST,
          `attribute ${type} repeated`,
        ),
      });
      continue;
    }
    const p = checkAttribute(body, ref, ctx);
    if (p) problems.push(p);
    if (p?.action !== "attribute-discard") {
      ref.valid = p === undefined;
      attributes.push(ref);
    }
  }

  const nlriCount = countNlri(body, nlriStart, nlriEnd, Afi.IPV4, addPathFor(options, Afi.IPV4));
  if (framing) {
    // RFC 7606 §4: rely on the Total Attribute Length and treat as withdraw, which needs
    // some NLRI located; with none found the session is reset.
    if (nlriCount === 0 && !mpReach && !mpUnreach) throw framing.error;
    problems.push(framing);
  }
  if (nlriCount > 0 || mpReach) {
    const missing = missingMandatory(nlriCount > 0);
    if (missing !== undefined) {
      problems.push({
        action: "treat-as-withdraw",
        error: updateError(
          UpdateErrorSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
          `missing well-known attribute ${missing}`,
          Uint8Array.of(missing),
        ),
      });
    }
  }
  const first = problems[0];
  if (first && options.errorHandling === "rfc4271") throw first.error;

  let endOfRib: AfiSafi | undefined;
  if (n === 4) {
    endOfRib = { afi: Afi.IPV4, safi: Safi.UNICAST };
  } else if (
    mpUnreach &&
    !mpReach &&
    mpUnreach.start === mpUnreach.end &&
    withdrawnLen === 0 &&
    nlriEnd === nlriStart
  ) {
    endOfRib = { afi: mpUnreach.afi, safi: mpUnreach.safi };
  }
  const update: DecodedUpdate = {
    body,
    options,
    withdrawnStart,
    withdrawnEnd,
    withdrawnCount,
    nlriStart,
    nlriEnd,
    nlriCount,
    attributes,
    treatAsWithdraw: anyTreatAsWithdraw(problems),
    problems,
  };
  return Object.assign(
    update,
    mpReach && { mpReach },
    mpUnreach && { mpUnreach },
    endOfRib && { endOfRib },
  );
}

/** Attribute types seen in the UPDATE being decoded (a 256-bit set; decoding is synchronous). */
const SEEN = new Uint32Array(8);

/** Mark `type` seen; returns whether it already was. */
function markSeen(type: number): boolean {
  const word = type >>> 5;
  const bit = 1 << (type & 31);
  const was = ((SEEN[word] as number) & bit) !== 0;
  SEEN[word] = (SEEN[word] as number) | bit;
  return was;
}

function isSeen(type: number): boolean {
  return ((SEEN[type >>> 5] as number) & (1 << (type & 31))) !== 0;
}

/** A loop, not `some` with a closure: decodeUpdate runs for every UPDATE. */
function anyTreatAsWithdraw(problems: readonly UpdateProblem[]): boolean {
  for (const p of problems) if (p.action === "treat-as-withdraw") return true;
  return false;
}

function missingMandatory(ipv4Nlri: boolean): number | undefined {
  if (!isSeen(AttrType.ORIGIN)) return AttrType.ORIGIN;
  if (!isSeen(AttrType.AS_PATH)) return AttrType.AS_PATH;
  if (ipv4Nlri && !isSeen(AttrType.NEXT_HOP)) return AttrType.NEXT_HOP;
  return undefined;
}

function framingProblem(detail: string): UpdateProblem {
  return {
    action: "treat-as-withdraw",
    error: updateError(UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST, detail),
  };
}

/** Visit the withdrawn prefixes: the IPv4 Withdrawn Routes field, then MP_UNREACH_NLRI. */
export function forEachWithdrawn(update: DecodedUpdate, visit: PrefixVisitor): void {
  const { body, options } = update;
  if (update.withdrawnCount > 0) {
    forEachNlri(
      body,
      update.withdrawnStart,
      update.withdrawnEnd,
      Afi.IPV4,
      Safi.UNICAST,
      addPathFor(options, Afi.IPV4),
      visit,
    );
  }
  const mp = update.mpUnreach;
  if (mp?.parsed)
    forEachNlri(body, mp.start, mp.end, mp.afi as Afi, mp.safi, addPathFor(options, mp.afi), visit);
}

/**
 * Visit the announced prefixes: the IPv4 NLRI field, then MP_REACH_NLRI. When
 * `update.treatAsWithdraw` is set the caller must handle these as withdrawn; see
 * `applyUpdate`.
 */
export function forEachAnnounced(update: DecodedUpdate, visit: PrefixVisitor): void {
  const { body, options } = update;
  if (update.nlriCount > 0) {
    forEachNlri(
      body,
      update.nlriStart,
      update.nlriEnd,
      Afi.IPV4,
      Safi.UNICAST,
      addPathFor(options, Afi.IPV4),
      visit,
    );
  }
  const mp = update.mpReach;
  if (mp?.parsed)
    forEachNlri(body, mp.start, mp.end, mp.afi as Afi, mp.safi, addPathFor(options, mp.afi), visit);
}

/**
 * Apply an UPDATE to a route sink with RFC 7606 semantics: withdrawals go to
 * `withdraw`; announcements go to `announce`, or to `withdraw` when the UPDATE is to be
 * treated as withdraw.
 */
export function applyUpdate(
  update: DecodedUpdate,
  sink: { announce: PrefixVisitor; withdraw: PrefixVisitor },
): void {
  forEachWithdrawn(update, sink.withdraw);
  forEachAnnounced(update, update.treatAsWithdraw ? sink.withdraw : sink.announce);
}

/** Value octets of the first valid attribute of `type`, if present (a view, not a copy). */
export function attributeValue(update: DecodedUpdate, type: number): Uint8Array | undefined {
  const ref = update.attributes.find((a) => a.type === type && a.valid);
  return ref && update.body.subarray(ref.offset, ref.offset + ref.length);
}

/** Announced and withdrawn prefixes as text (allocates: for tests, logs and tools). */
export function updatePrefixes(update: DecodedUpdate): {
  announced: string[];
  withdrawn: string[];
} {
  const announced: string[] = [];
  const withdrawn: string[] = [];
  forEachAnnounced(update, (afi, _safi, length, buf, offset) => {
    announced.push(prefixToString(afi, length, buf, offset));
  });
  forEachWithdrawn(update, (afi, _safi, length, buf, offset) => {
    withdrawn.push(prefixToString(afi, length, buf, offset));
  });
  return { announced, withdrawn };
}
