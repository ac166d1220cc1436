import { describe, expect, test } from "bun:test";
import { parsePrefix } from "../../src/bgp/prefix.ts";
import { PrefixTable } from "../../src/collector/prefix-table.ts";
import { canTransition, SpeakerStateMachine } from "../../src/collector/speaker-state.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { hex } from "../fixtures/bgp/hex.ts";

function add(t: PrefixTable, s: string): void {
  const p = parsePrefix(s);
  t.add(p.afi, p.length, p.bytes, 0);
}
function remove(t: PrefixTable, s: string): void {
  const p = parsePrefix(s);
  t.remove(p.afi, p.length, p.bytes, 0);
}

describe("PrefixTable", () => {
  test("counts exactly per family", () => {
    const t = new PrefixTable();
    for (const p of [
      "10.0.0.0/8",
      "10.0.0.0/9",
      "10.0.0.0/8",
      "0.0.0.0/0",
      "2001:db8::/32",
      "::/0",
      "2001:db8::/32",
    ]) {
      add(t, p);
    }
    expect([t.ipv4, t.ipv6]).toEqual([3, 2]);
    remove(t, "10.0.0.0/9");
    remove(t, "10.0.0.0/9");
    remove(t, "192.0.2.0/24");
    remove(t, "2001:db8::/33");
    expect([t.ipv4, t.ipv6]).toEqual([2, 2]);
    expect(t.has("10.0.0.0/8")).toBe(true);
    expect(t.has("10.0.0.0/9")).toBe(false);
    t.clear();
    expect([t.ipv4, t.ipv6]).toEqual([0, 0]);
  });

  test("trailing bits in NLRI do not create a different prefix", () => {
    const t = new PrefixTable();
    t.add(1, 8, hex("0a"), 0);
    t.add(1, 8, hex("0aff"), 0);
    t.add(2, 33, hex("20010db8ff"), 0);
    t.add(2, 33, hex("20010db880"), 0);
    expect([t.ipv4, t.ipv6]).toEqual([1, 1]);
  });

  test("other families are ignored", () => {
    const t = new PrefixTable();
    t.add(25, 8, hex("0a"), 0);
    expect([t.ipv4, t.ipv6]).toEqual([0, 0]);
  });
});

describe("SpeakerStateMachine", () => {
  test("allows the session path and refuses shortcuts", () => {
    const seen: string[] = [];
    const m = new SpeakerStateMachine(silentLogger, (f, t) => seen.push(`${f} -> ${t}`));
    m.transition("Active");
    expect(() => m.transition("Established")).toThrow(BgpProxyError);
    m.transition("OpenSent");
    m.transition("OpenConfirm");
    m.transition("Established");
    expect(() => m.transition("Active")).toThrow(BgpProxyError);
    m.transition("Idle");
    expect(seen).toHaveLength(5);
    expect(canTransition("Idle", "Established")).toBe(false);
    expect(canTransition("OpenSent", "Idle")).toBe(true);
  });
});
