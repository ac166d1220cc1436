import { Afi, AttrType, ErrorCode, UpdateErrorSubcode } from "./constants.ts";
import type { PrefixVisitor } from "./nlri.ts";
import { BgpNotificationError } from "./notification-error.ts";

/**
 * The prefixes of one UPDATE body, without decoding its path attributes: a single pass
 * over Withdrawn Routes, the attribute headers (only MP_REACH_NLRI and MP_UNREACH_NLRI are
 * opened) and the NLRI, with only the checks that keep it inside the body. It is for a
 * bystander that counts what a BGP speaker receives (the gateway's forwarded-session
 * observer): the receiving daemon validates, and RFC 7606 treat-as-withdraw, which needs
 * every attribute checked, is not applied. Withdrawals are visited before announcements,
 * as `applyUpdate` does. Broken lengths throw a BgpNotificationError (3/1 or 3/10).
 */
export interface PrefixWalkSink {
  announce: PrefixVisitor;
  withdraw: PrefixVisitor;
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);

function malformed(detail: string, subcode: number = UpdateErrorSubcode.MALFORMED_ATTRIBUTE_LIST) {
  return new BgpNotificationError(ErrorCode.UPDATE_MESSAGE, subcode, detail);
}

/**
 * `countNlri` + `forEachNlri` (nlri.ts) in one pass, on purpose: this is the relay
 * observer's per-UPDATE fast path, and the two-pass pair would read every NLRI twice. The
 * difference is visible only on broken input: prefixes before the bad one are visited
 * before the throw (the observer counts, it does not apply).
 */
function visitNlri(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: Afi,
  safi: number,
  addPath: boolean,
  visit: PrefixVisitor,
): void {
  const max = afi === Afi.IPV4 ? 32 : 128;
  let pos = start;
  while (pos < end) {
    let pathId = 0;
    if (addPath) {
      if (pos + 4 >= end)
        throw malformed("truncated path identifier", UpdateErrorSubcode.INVALID_NETWORK_FIELD);
      pathId = ((buf[pos] as number) << 24) >>> 0;
      pathId +=
        ((buf[pos + 1] as number) << 16) |
        ((buf[pos + 2] as number) << 8) |
        (buf[pos + 3] as number);
      pos += 4;
    }
    const length = buf[pos] as number;
    const next = pos + 1 + ((length + 7) >>> 3);
    if (length > max || next > end)
      throw malformed("invalid prefix", UpdateErrorSubcode.INVALID_NETWORK_FIELD);
    visit(afi, safi, length, buf, pos + 1, pathId);
    pos = next;
  }
}

/** Visit every IPv4/IPv6 prefix the UPDATE body in buf[start, end) withdraws, then announces. */
export function walkUpdatePrefixes(
  buf: Uint8Array,
  start: number,
  end: number,
  addPath: { ipv4: boolean; ipv6: boolean },
  sink: PrefixWalkSink,
): void {
  if (end - start < 4) throw malformed("UPDATE shorter than 4 octets");
  const withdrawnEnd = start + 2 + u16(buf, start);
  if (withdrawnEnd + 2 > end) throw malformed("withdrawn routes overrun the UPDATE");
  const attrsStart = withdrawnEnd + 2;
  const attrsEnd = attrsStart + u16(buf, withdrawnEnd);
  if (attrsEnd > end) throw malformed("path attributes overrun the UPDATE");

  visitNlri(buf, start + 2, withdrawnEnd, Afi.IPV4, 1, addPath.ipv4, sink.withdraw);
  let reachAt = -1;
  let reachEnd = 0;
  let pos = attrsStart;
  while (pos < attrsEnd) {
    if (pos + 3 > attrsEnd) throw malformed("truncated attribute header");
    const flags = buf[pos] as number;
    const type = buf[pos + 1] as number;
    const extended = (flags & 0x10) !== 0;
    const valueAt = pos + (extended ? 4 : 3);
    if (valueAt > attrsEnd) throw malformed("truncated attribute header");
    const length = extended ? u16(buf, pos + 2) : (buf[pos + 2] as number);
    const attrEnd = valueAt + length;
    if (attrEnd > attrsEnd) throw malformed("attribute overruns the attribute list");
    if (type === AttrType.MP_UNREACH_NLRI && length >= 3) {
      const afi = u16(buf, valueAt);
      if (afi === Afi.IPV4 || afi === Afi.IPV6) {
        const ap = afi === Afi.IPV4 ? addPath.ipv4 : addPath.ipv6;
        visitNlri(buf, valueAt + 3, attrEnd, afi, buf[valueAt + 2] as number, ap, sink.withdraw);
      }
    } else if (type === AttrType.MP_REACH_NLRI) {
      reachAt = valueAt;
      reachEnd = attrEnd;
    }
    pos = attrEnd;
  }
  if (reachAt >= 0 && reachEnd - reachAt >= 5) {
    const afi = u16(buf, reachAt);
    const nlriAt = reachAt + 4 + (buf[reachAt + 3] as number) + 1;
    if ((afi === Afi.IPV4 || afi === Afi.IPV6) && nlriAt <= reachEnd) {
      const ap = afi === Afi.IPV4 ? addPath.ipv4 : addPath.ipv6;
      visitNlri(buf, nlriAt, reachEnd, afi, buf[reachAt + 2] as number, ap, sink.announce);
    }
  }
  visitNlri(buf, attrsEnd, end, Afi.IPV4, 1, addPath.ipv4, sink.announce);
}
