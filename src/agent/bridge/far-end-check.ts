import type { AfiSafi } from "../../bgp/capability.ts";
import { Afi, Safi } from "../../bgp/constants.ts";
import type { BgpOpen } from "../../bgp/open.ts";

/**
 * What a router's BGP session relies on, from the two OPENs that set it up, and whether a
 * new far end's OPEN keeps all of it — so that the router, whose session never went down,
 * can go on talking to the new far end as if it were the old one. Pure.
 */
export interface SessionTerms {
  /** The far end's AS number the router peers with. */
  readonly peerAsn: number;
  /** min(hold times), 0 = no keepalives. */
  readonly holdTime: number;
  readonly fourOctetAs: boolean;
  /** The AFI/SAFIs both sides advertised (IPv4 unicast when neither used RFC 4760). */
  readonly families: readonly AfiSafi[];
  /** "afi/safi:router-sends>far-receives" style keys of the ADD-PATH directions in force. */
  readonly addPath: readonly string[];
  readonly extendedMessage: boolean;
  readonly routeRefresh: boolean;
  readonly enhancedRouteRefresh: boolean;
}

const IPV4_UNICAST: AfiSafi = { afi: Afi.IPV4, safi: Safi.UNICAST };

function advertisedFamilies(open: BgpOpen): AfiSafi[] {
  const mp = open.capabilities.multiprotocol;
  return mp.length > 0 ? mp : [IPV4_UNICAST];
}

/** RFC 7911: `sender` may send several paths for a family when it says send (2) and the receiver receive (1). */
function addPathDirections(router: BgpOpen, far: BgpOpen): string[] {
  const out: string[] = [];
  const mode = (open: BgpOpen, f: AfiSafi) =>
    open.capabilities.addPath.find((a) => a.afi === f.afi && a.safi === f.safi)?.sendReceive ?? 0;
  for (const f of advertisedFamilies(router)) {
    const r = mode(router, f);
    const d = mode(far, f);
    if (r & 2 && d & 1) out.push(`${f.afi}/${f.safi}:router>far`);
    if (d & 2 && r & 1) out.push(`${f.afi}/${f.safi}:far>router`);
  }
  return out;
}

function holdTime(a: BgpOpen, b: BgpOpen): number {
  return Math.min(a.holdTime, b.holdTime);
}

export function sessionTerms(router: BgpOpen, far: BgpOpen): SessionTerms {
  const farFamilies = advertisedFamilies(far);
  const rc = router.capabilities;
  const fc = far.capabilities;
  return {
    peerAsn: far.asn,
    holdTime: holdTime(router, far),
    fourOctetAs: rc.fourOctetAs !== undefined && fc.fourOctetAs !== undefined,
    families: advertisedFamilies(router).filter((f) =>
      farFamilies.some((g) => g.afi === f.afi && g.safi === f.safi),
    ),
    addPath: addPathDirections(router, far),
    extendedMessage: rc.extendedMessage && fc.extendedMessage,
    routeRefresh: rc.routeRefresh && fc.routeRefresh,
    enhancedRouteRefresh: rc.enhancedRouteRefresh && fc.enhancedRouteRefresh,
  };
}

/**
 * The ways a new far end would break the router's session (empty: it can take over):
 * another AS, another negotiated hold time (the router keeps its timers), a family the
 * session carries that the new far end lacks, or a capability in force (4-octet AS,
 * ADD-PATH, extended messages, route refresh, enhanced route refresh) that it would change.
 */
export function farEndMismatches(before: SessionTerms, after: SessionTerms): string[] {
  const out: string[] = [];
  if (after.peerAsn !== before.peerAsn) out.push(`AS ${after.peerAsn}, not ${before.peerAsn}`);
  if (after.holdTime !== before.holdTime) {
    out.push(`hold time ${after.holdTime} s, not ${before.holdTime} s`);
  }
  for (const f of before.families) {
    if (!after.families.some((g) => g.afi === f.afi && g.safi === f.safi)) {
      out.push(`no AFI ${f.afi} SAFI ${f.safi}`);
    }
  }
  // Encodings must stay as they are both ways; a refresh capability only must not be lost.
  const flag = (name: string, a: boolean, b: boolean, gainIsFine = false) => {
    if (a !== b && !(gainIsFine && b)) out.push(`${name} ${b ? "gained" : "lost"}`);
  };
  flag("4-octet AS", before.fourOctetAs, after.fourOctetAs);
  flag("extended messages", before.extendedMessage, after.extendedMessage);
  flag("route refresh", before.routeRefresh, after.routeRefresh, true);
  flag("enhanced route refresh", before.enhancedRouteRefresh, after.enhancedRouteRefresh, true);
  if (before.addPath.join(",") !== after.addPath.join(",")) {
    out.push(
      `ADD-PATH ${after.addPath.join(",") || "none"}, not ${before.addPath.join(",") || "none"}`,
    );
  }
  return out;
}
