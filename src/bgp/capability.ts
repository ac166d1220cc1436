import { BgpProxyError } from "../core/errors.ts";
import { ByteWriter } from "./byte-writer.ts";
import { CapabilityCode, ErrorCode, OpenErrorSubcode } from "./constants.ts";
import { BgpNotificationError } from "./notification-error.ts";

/** Capabilities advertised in OPEN (RFC 5492), the well-known ones interpreted. */

export interface AfiSafi {
  readonly afi: number;
  readonly safi: number;
}

/** RFC 4724. */
export interface GracefulRestartCapability {
  /** R bit: the sender has restarted. */
  readonly restarting: boolean;
  /** N bit (RFC 8538): graceful restart also covers NOTIFICATION. */
  readonly notification: boolean;
  /** Seconds. */
  readonly restartTime: number;
  readonly families: ReadonlyArray<AfiSafi & { readonly forwardingPreserved: boolean }>;
}

/** RFC 7911: 1 = receive, 2 = send, 3 = both. */
export interface AddPathFamily extends AfiSafi {
  readonly sendReceive: number;
}

/** A capability kept as its code and value octets. */
export interface RawCapability {
  readonly code: number;
  readonly value: Uint8Array;
}

export interface Capabilities {
  /** RFC 4760 families, in the order advertised. */
  multiprotocol: AfiSafi[];
  /** RFC 6793: the sender's real AS number, when it supports 4-octet AS numbers. */
  fourOctetAs?: number;
  /** RFC 2918 (code 2, or the pre-standard 128). */
  routeRefresh: boolean;
  /** RFC 7313. */
  enhancedRouteRefresh: boolean;
  /** RFC 8654. */
  extendedMessage: boolean;
  gracefulRestart?: GracefulRestartCapability;
  addPath: AddPathFamily[];
  /** Everything else (and known capabilities whose value could not be interpreted). */
  other: RawCapability[];
}

/** An empty capability set. */
export function emptyCapabilities(): Capabilities {
  return {
    multiprotocol: [],
    routeRefresh: false,
    enhancedRouteRefresh: false,
    extendedMessage: false,
    addPath: [],
    other: [],
  };
}

function malformed(detail: string): BgpNotificationError {
  return new BgpNotificationError(ErrorCode.OPEN_MESSAGE, OpenErrorSubcode.UNSPECIFIC, detail);
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);
const u32 = (b: Uint8Array, i: number): number => u16(b, i) * 0x10000 + u16(b, i + 2);

/**
 * Parse the capability TLVs in `buf[start, end)` into `into`. A TLV running past the
 * end, or a multiprotocol / 4-octet AS capability of the wrong size, is an OPEN
 * Message Error; other uninterpretable values are kept in `other`.
 */
export function decodeCapabilities(
  buf: Uint8Array,
  start: number,
  end: number,
  into: Capabilities,
): void {
  let pos = start;
  while (pos < end) {
    if (pos + 2 > end) throw malformed("truncated capability header");
    const code = buf[pos] as number;
    const len = buf[pos + 1] as number;
    const v = pos + 2;
    pos = v + len;
    if (pos > end) throw malformed(`capability ${code} runs past its parameter`);
    switch (code) {
      case CapabilityCode.MULTIPROTOCOL:
        if (len !== 4) throw malformed(`multiprotocol capability of length ${len}`);
        into.multiprotocol.push({ afi: u16(buf, v), safi: buf[v + 3] as number });
        break;
      case CapabilityCode.FOUR_OCTET_AS:
        if (len !== 4) throw malformed(`4-octet AS capability of length ${len}`);
        into.fourOctetAs = u32(buf, v);
        break;
      case CapabilityCode.ROUTE_REFRESH:
      case CapabilityCode.ROUTE_REFRESH_OLD:
        into.routeRefresh = true;
        break;
      case CapabilityCode.ENHANCED_ROUTE_REFRESH:
        into.enhancedRouteRefresh = true;
        break;
      case CapabilityCode.EXTENDED_MESSAGE:
        into.extendedMessage = true;
        break;
      case CapabilityCode.GRACEFUL_RESTART:
        if (len < 2 || (len - 2) % 4 !== 0) {
          into.other.push({ code, value: buf.slice(v, pos) });
        } else {
          const flags = buf[v] as number;
          const families = [];
          for (let i = v + 2; i < pos; i += 4) {
            families.push({
              afi: u16(buf, i),
              safi: buf[i + 2] as number,
              forwardingPreserved: ((buf[i + 3] as number) & 0x80) !== 0,
            });
          }
          into.gracefulRestart = {
            restarting: (flags & 0x80) !== 0,
            notification: (flags & 0x40) !== 0,
            restartTime: u16(buf, v) & 0x0fff,
            families,
          };
        }
        break;
      case CapabilityCode.ADD_PATH:
        if (len === 0 || len % 4 !== 0) {
          into.other.push({ code, value: buf.slice(v, pos) });
        } else {
          for (let i = v; i < pos; i += 4) {
            into.addPath.push({
              afi: u16(buf, i),
              safi: buf[i + 2] as number,
              sendReceive: buf[i + 3] as number,
            });
          }
        }
        break;
      default:
        into.other.push({ code, value: buf.slice(v, pos) });
    }
  }
}

/** What to advertise; omitted fields are not advertised. */
export interface CapabilitySpec {
  multiprotocol?: readonly AfiSafi[];
  /** Advertise RFC 6793 support with our real ASN (default true). */
  fourOctetAs?: boolean;
  routeRefresh?: boolean;
  enhancedRouteRefresh?: boolean;
  extendedMessage?: boolean;
  gracefulRestart?: GracefulRestartCapability;
  addPath?: readonly AddPathFamily[];
  other?: readonly RawCapability[];
}

/** Encode capability TLVs (concatenated, without the optional parameter header). */
export function encodeCapabilities(spec: CapabilitySpec, asn: number): Uint8Array {
  const w = new ByteWriter(64);
  for (const f of spec.multiprotocol ?? []) {
    w.u8(CapabilityCode.MULTIPROTOCOL).u8(4).u16(f.afi).u8(0).u8(f.safi);
  }
  if (spec.routeRefresh) w.u8(CapabilityCode.ROUTE_REFRESH).u8(0);
  if (spec.enhancedRouteRefresh) w.u8(CapabilityCode.ENHANCED_ROUTE_REFRESH).u8(0);
  if (spec.extendedMessage) w.u8(CapabilityCode.EXTENDED_MESSAGE).u8(0);
  const gr = spec.gracefulRestart;
  if (gr) {
    w.u8(CapabilityCode.GRACEFUL_RESTART).u8(2 + 4 * gr.families.length);
    w.u16((gr.restarting ? 0x8000 : 0) | (gr.notification ? 0x4000 : 0) | (gr.restartTime & 0xfff));
    for (const f of gr.families)
      w.u16(f.afi)
        .u8(f.safi)
        .u8(f.forwardingPreserved ? 0x80 : 0);
  }
  if (spec.fourOctetAs !== false) w.u8(CapabilityCode.FOUR_OCTET_AS).u8(4).u32(asn);
  const addPath = spec.addPath ?? [];
  if (addPath.length > 0) {
    w.u8(CapabilityCode.ADD_PATH).u8(4 * addPath.length);
    for (const f of addPath) w.u16(f.afi).u8(f.safi).u8(f.sendReceive);
  }
  for (const c of spec.other ?? []) {
    if (c.value.length > 255) {
      throw new BgpProxyError("internal", `capability ${c.code} value exceeds 255 octets`, {
        retryable: false,
      });
    }
    w.u8(c.code).u8(c.value.length).bytes(c.value);
  }
  return w.finish();
}
