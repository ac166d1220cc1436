import { Afi, CeaseSubcode, ErrorCode, Safi } from "../bgp/constants.ts";
import type { PrefixVisitor } from "../bgp/nlri.ts";
import { BgpNotificationError } from "../bgp/notification-error.ts";
import { applyUpdate, type DecodedUpdate } from "../bgp/update.ts";
import { PrefixTable } from "./prefix-table.ts";
import type { PerFamily } from "./speaker-stats.ts";

/**
 * Folds a peer's decoded UPDATEs into counts: prefixes held now (exact, per family),
 * announced and withdrawn totals, End-of-RIB seen, RFC 7606 outcomes. Only unicast
 * IPv4/IPv6 is counted; other families are ignored.
 */
export class RouteCounter {
  readonly table = new PrefixTable();
  readonly announced: PerFamily<number> = { ipv4: 0, ipv6: 0 };
  readonly withdrawn: PerFamily<number> = { ipv4: 0, ipv6: 0 };
  readonly endOfRib: PerFamily<boolean> = { ipv4: false, ipv6: false };
  treatAsWithdraw = 0;
  attributesDiscarded = 0;

  /** Where decoded prefixes go: no allocation per prefix. */
  private readonly sink: { announce: PrefixVisitor; withdraw: PrefixVisitor } = {
    announce: (afi, safi, length, buf, offset) => {
      if (safi !== Safi.UNICAST) return;
      this.table.add(afi, length, buf, offset);
      if (afi === Afi.IPV4) this.announced.ipv4++;
      else this.announced.ipv6++;
    },
    withdraw: (afi, safi, length, buf, offset) => {
      if (safi !== Safi.UNICAST) return;
      this.table.remove(afi, length, buf, offset);
      if (afi === Afi.IPV4) this.withdrawn.ipv4++;
      else this.withdrawn.ipv6++;
    },
  };

  /**
   * The Cease/Maximum Number of Prefixes Reached error (RFC 4486 §4: data = AFI, SAFI,
   * upper bound) when a family holds more than `max` prefixes.
   */
  limitError(max: number): BgpNotificationError | undefined {
    // Without a limit the counts are not read: reading them applies the prefix sets' queued
    // adds (prefix-table.ts), which this check after every UPDATE would do one UPDATE at a time.
    if (max === Number.POSITIVE_INFINITY) return undefined;
    const afi = this.table.ipv4 > max ? Afi.IPV4 : this.table.ipv6 > max ? Afi.IPV6 : 0;
    if (afi === 0) return undefined;
    const data = new Uint8Array(7);
    const view = new DataView(data.buffer);
    view.setUint16(0, afi);
    view.setUint8(2, Safi.UNICAST);
    view.setUint32(3, Math.min(max, 0xffffffff));
    return new BgpNotificationError(
      ErrorCode.CEASE,
      CeaseSubcode.MAXIMUM_PREFIXES_REACHED,
      `more than ${max} ${afi === Afi.IPV4 ? "IPv4" : "IPv6"} prefixes`,
      data,
    );
  }

  /**
   * Apply one UPDATE (treat-as-withdraw honoured). Returns the family whose first
   * End-of-RIB this UPDATE is, if any.
   */
  apply(update: DecodedUpdate): "ipv4" | "ipv6" | undefined {
    for (const p of update.problems) {
      if (p.action === "attribute-discard") this.attributesDiscarded++;
    }
    if (update.treatAsWithdraw) this.treatAsWithdraw++;
    applyUpdate(update, this.sink);
    const eor = update.endOfRib;
    if (!eor || eor.safi !== Safi.UNICAST) return undefined;
    const family = eor.afi === Afi.IPV4 ? "ipv4" : eor.afi === Afi.IPV6 ? "ipv6" : undefined;
    if (family === undefined || this.endOfRib[family]) return undefined;
    this.endOfRib[family] = true;
    return family;
  }
}
