import { ipv4ToNumber } from "../core/address.ts";
import { BgpProxyError } from "../core/errors.ts";
import { ByteWriter } from "./byte-writer.ts";
import {
  type Capabilities,
  type CapabilitySpec,
  decodeCapabilities,
  emptyCapabilities,
  encodeCapabilities,
} from "./capability.ts";
import {
  AS_TRANS,
  BGP_VERSION,
  ErrorCode,
  MAX_ASN,
  MessageType,
  OpenErrorSubcode,
  OptionalParameterType,
} from "./constants.ts";
import { encodeMessage } from "./header.ts";
import { numberToIpv4 } from "./ip-address.ts";
import { BgpNotificationError } from "./notification-error.ts";

/** A decoded OPEN message (RFC 4271 §4.2). */
export interface BgpOpen {
  readonly version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS for a 4-octet ASN). */
  readonly myAs: number;
  /** The sender's real ASN: the 4-octet AS capability's value if present, else `myAs`. */
  readonly asn: number;
  /** Seconds; 0 or ≥ 3. */
  readonly holdTime: number;
  /** BGP Identifier, dotted quad. */
  readonly routerId: string;
  readonly capabilities: Capabilities;
  /** True when the RFC 9072 extended optional parameters form was used. */
  readonly extendedParameters: boolean;
}

const OPEN_FIXED = 10; // version, my AS, hold time, BGP identifier, opt parm len

function openError(subcode: number, detail: string, data?: Uint8Array): BgpNotificationError {
  return new BgpNotificationError(ErrorCode.OPEN_MESSAGE, subcode, detail, data);
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);

/**
 * Decode and check an OPEN body (the message after its header). Throws
 * BgpNotificationError with: Unsupported Version Number (data: 2-octet version 4),
 * Bad Peer AS (AS 0, RFC 7607), Unacceptable Hold Time (1 or 2), Bad BGP Identifier
 * (0.0.0.0), Unsupported Optional Parameter (any parameter but capabilities), or OPEN
 * Message Error/Unspecific for parameter lengths that do not add up. Checks that need
 * local configuration (expected peer AS, our own identifier) are left to the caller.
 */
export function decodeOpen(body: Uint8Array): BgpOpen {
  if (body.length < OPEN_FIXED) throw openError(OpenErrorSubcode.UNSPECIFIC, "OPEN too short");
  const version = body[0] as number;
  if (version !== BGP_VERSION) {
    throw openError(
      OpenErrorSubcode.UNSUPPORTED_VERSION_NUMBER,
      `version ${version}, only ${BGP_VERSION} is supported`,
      Uint8Array.of(0, BGP_VERSION),
    );
  }
  const myAs = u16(body, 1);
  const holdTime = u16(body, 3);
  const id = (u16(body, 5) * 0x10000 + u16(body, 7)) >>> 0;
  const capabilities = emptyCapabilities();
  const extendedParameters = decodeParameters(body, capabilities);

  const asn = capabilities.fourOctetAs ?? myAs;
  if (asn === 0) throw openError(OpenErrorSubcode.BAD_PEER_AS, "AS number 0");
  if (holdTime === 1 || holdTime === 2) {
    throw openError(OpenErrorSubcode.UNACCEPTABLE_HOLD_TIME, `hold time ${holdTime}`);
  }
  if (id === 0) throw openError(OpenErrorSubcode.BAD_BGP_IDENTIFIER, "BGP identifier 0.0.0.0");
  return {
    version,
    myAs,
    asn,
    holdTime,
    routerId: numberToIpv4(id),
    capabilities,
    extendedParameters,
  };
}

/** Walk the optional parameters; returns whether the RFC 9072 form was used. */
function decodeParameters(body: Uint8Array, caps: Capabilities): boolean {
  let optLen = body[9] as number;
  let pos = OPEN_FIXED;
  let extended = false;
  if (optLen === 255 && body.length > OPEN_FIXED && body[OPEN_FIXED] === 255) {
    // RFC 9072: Non-Ext OP Type 255, then a 2-octet Extended Opt. Parm. Length.
    if (body.length < OPEN_FIXED + 3) {
      throw openError(OpenErrorSubcode.UNSPECIFIC, "truncated extended parameters length");
    }
    extended = true;
    optLen = u16(body, OPEN_FIXED + 1);
    pos = OPEN_FIXED + 3;
  }
  const end = pos + optLen;
  if (end !== body.length) {
    throw openError(
      OpenErrorSubcode.UNSPECIFIC,
      `optional parameters length ${optLen} does not match the message`,
    );
  }
  const headerLen = extended ? 3 : 2;
  while (pos < end) {
    if (pos + headerLen > end) throw openError(OpenErrorSubcode.UNSPECIFIC, "truncated parameter");
    const type = body[pos] as number;
    const len = extended ? u16(body, pos + 1) : (body[pos + 1] as number);
    const v = pos + headerLen;
    pos = v + len;
    if (pos > end) throw openError(OpenErrorSubcode.UNSPECIFIC, `parameter ${type} overruns`);
    if (type !== OptionalParameterType.CAPABILITIES) {
      throw openError(
        OpenErrorSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
        `optional parameter type ${type}`,
      );
    }
    decodeCapabilities(body, v, pos, caps);
  }
  return extended;
}

/** What `encodeOpen` sends. */
export interface OpenSpec {
  /** Our ASN; above 65535 the 2-octet field carries AS_TRANS (RFC 6793). */
  asn: number;
  /** Seconds: 0 or 3..65535. */
  holdTime: number;
  /** BGP Identifier, dotted quad, not 0.0.0.0. */
  routerId: string;
  capabilities?: CapabilitySpec;
  /** Only for tests of version negotiation; default 4. */
  version?: number;
}

/**
 * Encode a whole OPEN message. Capabilities go in one Capabilities optional parameter
 * (the RFC 9072 extended form is used only when they exceed 255 octets). Throws an
 * internal error for values that cannot be sent.
 */
export function encodeOpen(spec: OpenSpec): Uint8Array {
  const bad = (detail: string) => new BgpProxyError("internal", detail, { retryable: false });
  if (!Number.isInteger(spec.asn) || spec.asn < 1 || spec.asn > MAX_ASN) {
    throw bad(`ASN ${spec.asn} out of range`);
  }
  const caps = spec.capabilities ?? {};
  if (spec.asn > 0xffff && caps.fourOctetAs === false) {
    throw bad(`ASN ${spec.asn} needs the 4-octet AS capability`);
  }
  const hold = spec.holdTime;
  if (!Number.isInteger(hold) || hold < 0 || hold > 0xffff || hold === 1 || hold === 2) {
    throw bad(`hold time ${hold} is not 0 or 3..65535`);
  }
  const id = ipv4ToNumber(spec.routerId);
  if (id === 0) throw bad("BGP identifier 0.0.0.0");

  const capBytes = encodeCapabilities(caps, spec.asn);
  const w = new ByteWriter(OPEN_FIXED + capBytes.length + 8);
  w.u8(spec.version ?? BGP_VERSION)
    .u16(spec.asn > 0xffff ? AS_TRANS : spec.asn)
    .u16(hold)
    .u32(id);
  if (capBytes.length === 0) {
    w.u8(0);
  } else if (capBytes.length + 2 <= 255) {
    w.u8(capBytes.length + 2)
      .u8(OptionalParameterType.CAPABILITIES)
      .u8(capBytes.length);
    w.bytes(capBytes);
  } else {
    w.u8(255)
      .u8(OptionalParameterType.EXTENDED_LENGTH)
      .u16(capBytes.length + 3);
    w.u8(OptionalParameterType.CAPABILITIES).u16(capBytes.length).bytes(capBytes);
  }
  return encodeMessage(MessageType.OPEN, w.finish());
}
