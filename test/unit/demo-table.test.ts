import { describe, expect, test } from "bun:test";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { decodeUpdate, updatePrefixes } from "../../src/bgp/update.ts";
import { churnRound, DEMO_TABLE, initialTable } from "../../src/demo/demo-table.ts";

const spec = { ...DEMO_TABLE, nextHop: "127.0.0.2" };

/** Applies UPDATE messages to a set of prefixes, decoding them with the real codec. */
function apply(table: Set<string>, messages: readonly Uint8Array[]): number {
  let updates = 0;
  const framer = new BgpFramer();
  for (const m of messages) {
    for (const frame of framer.push(m)) {
      const { announced, withdrawn } = updatePrefixes(
        decodeUpdate(frame.body, { fourOctetAs: true, errorHandling: "rfc4271" }),
      );
      for (const p of withdrawn) table.delete(p);
      for (const p of announced) table.add(p);
      updates++;
    }
  }
  return updates;
}

const count = (table: Set<string>, v6: boolean) =>
  [...table].filter((p) => p.includes(":") === v6).length;

describe("demo table", () => {
  test("the initial table: 1000 IPv4 /24s and 200 IPv6 /48s, packed into few UPDATEs", () => {
    const table = new Set<string>();
    const updates = apply(table, initialTable(spec));
    expect(count(table, false)).toBe(1000);
    expect(count(table, true)).toBe(200);
    expect(table.has("10.3.231.0/24")).toBe(true);
    expect(table.has("2001:db8:c7::/48")).toBe(true);
    // Grouped by AS path (24 paths a family) plus two End-of-RIBs.
    expect(updates).toBeLessThan(60);
  });

  test("each churn round leaves the table one slice short, a different slice each round", () => {
    const table = new Set<string>();
    apply(table, initialTable(spec));
    const missing: string[][] = [];
    for (let round = 1; round <= 25; round++) {
      const before = new Set(table);
      expect(apply(table, churnRound(spec, round))).toBeGreaterThan(0);
      expect(count(table, false)).toBe(1000 - 50);
      expect(count(table, true)).toBe(200 - 50);
      missing.push([...before].filter((p) => !table.has(p)));
    }
    // Round r withdraws slice r: 1000 / 50 = 20 slices, so round 20 takes slice 0.
    const slice1 = [
      ...Array.from({ length: 50 }, (_, i) => `10.0.${50 + i}.0/24`),
      ...Array.from({ length: 50 }, (_, i) => `2001:db8:${(50 + i).toString(16)}::/48`),
    ];
    expect([...(missing[0] ?? [])].sort()).toEqual(slice1.sort());
    expect(missing[0]).toHaveLength(100);
    expect(missing[0]).toContain("10.0.50.0/24");
    expect(missing[1]).toContain("10.0.100.0/24");
    expect(missing[19]).toContain("10.0.0.0/24");
  });

  test("a table smaller than a slice churns as a whole", () => {
    const small = { ...spec, ipv4: 10, ipv6: 0, churnSlice: 50 };
    const table = new Set<string>();
    apply(table, initialTable(small));
    apply(table, churnRound(small, 1));
    expect(table.size).toBe(0);
    apply(table, churnRound(small, 2));
    expect(table.size).toBe(0);
  });
});
