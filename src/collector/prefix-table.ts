import { Afi } from "../bgp/constants.ts";
import { ipv4PrefixKey, ipv6PrefixKey, parsePrefix } from "../bgp/prefix.ts";
import { NumericKeySet } from "./numeric-key-set.ts";

/**
 * The set of prefixes a peer currently announces, per family, held as compact exact
 * keys (IPv4: a number in a NumericKeySet, IPv6: a short string in a Set) so a full table
 * (1M IPv4 + 200k IPv6) stays small and cheap to fill. Adding a held prefix or removing an unknown one changes nothing.
 */
export class PrefixTable {
  private readonly v4 = new NumericKeySet();
  private readonly v6 = new Set<string>();

  /** IPv4 prefixes held. */
  get ipv4(): number {
    return this.v4.size;
  }

  /** IPv6 prefixes held. */
  get ipv6(): number {
    return this.v6.size;
  }

  /** Add the prefix whose octets start at buf[offset]; ignores families other than IPv4/IPv6. */
  add(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) this.v4.add(ipv4PrefixKey(length, buf, offset));
    else if (afi === Afi.IPV6) this.v6.add(ipv6PrefixKey(length, buf, offset));
  }

  /** Remove the prefix whose octets start at buf[offset], if held. */
  remove(afi: number, length: number, buf: Uint8Array, offset: number): void {
    if (afi === Afi.IPV4) this.v4.delete(ipv4PrefixKey(length, buf, offset));
    else if (afi === Afi.IPV6) this.v6.delete(ipv6PrefixKey(length, buf, offset));
  }

  /** Whether "10.0.0.0/8" or "2001:db8::/32" is held. */
  has(prefix: string): boolean {
    const p = parsePrefix(prefix);
    return p.afi === Afi.IPV4
      ? this.v4.has(ipv4PrefixKey(p.length, p.bytes, 0))
      : this.v6.has(ipv6PrefixKey(p.length, p.bytes, 0));
  }

  /** Forget everything (the session ended). */
  clear(): void {
    this.v4.clear();
    this.v6.clear();
  }
}
