import { describe, expect, test } from "bun:test";
import type { GcBurstRule } from "../../src/core/gc-burst.ts";
import {
  AGENT_GC_BURST,
  AGENT_GC_PACER,
  DEFAULT_GC_PACER,
  GATEWAY_GC_BURST,
  GATEWAY_GC_FULL_BURST,
  GATEWAY_GC_HELD,
  GATEWAY_GC_PACER,
  GcPacer,
  type GcPacerOptions,
} from "../../src/core/gc-pacer.ts";
import {
  combinedGcPacer,
  noteRelayAllocation,
  ProcessGcPacer,
  processGcPacer,
} from "../../src/core/process-gc-pacer.ts";
import { DataAction } from "../../src/proto/messages.ts";
import { proxyServiceDefinition } from "../../src/proto/service.ts";
import { ManualClock } from "../support/manual-clock.ts";

const MiB = 1024 * 1024;
const OPTIONS: GcPacerOptions = {
  intervalMs: 1000,
  growthBytes: 4 * MiB,
  busyShare: 0.1,
  budgetShare: 0.01,
  bursts: [],
};

/** OPTIONS with one burst rule: young collections every `everyBytes`, unless `rule` says. */
function withBurst(rule: Partial<GcBurstRule> & { everyBytes: number }): GcPacerOptions {
  const young: GcBurstRule = {
    everyBytes: rule.everyBytes,
    collection: "young",
    growthBytes: 0,
    rssGrowthBytes: 0,
    windowBytes: Number.POSITIVE_INFINITY,
    quietMs: 0,
    budgetShare: 0.02,
  };
  return { ...OPTIONS, bursts: [{ ...young, ...rule }] };
}

const FULL_EVERY_MIB = { everyBytes: 1 * MiB, collection: "full" } as const;

/** A process whose RSS and CPU time the test sets; a collection frees the garbage. */
function fakeProcess(rss: number) {
  const p = { rss, cpu: 0, garbage: 0, collections: 0, young: 0, external: 0 };
  return {
    p,
    proc: {
      rss: () => p.rss,
      cpuMs: () => p.cpu,
      collect: () => {
        p.collections++;
        p.cpu += 7;
        p.rss -= p.garbage;
        p.external -= p.garbage;
        p.garbage = 0;
      },
      collectYoung: () => {
        p.young++;
        p.cpu += 0.2;
      },
      external: () => p.external,
    },
    /** `live` and `garbage` bytes more, all of them in ArrayBuffers (external memory). */
    grow: (live: number, garbage: number) => {
      p.rss += live + garbage;
      p.external += live + garbage;
      p.garbage += garbage;
    },
  };
}

/** A started pacer (`options`) over a fake process of 100 MiB, on a manual clock. */
function startedPacer(options: GcPacerOptions = OPTIONS) {
  const clock = new ManualClock();
  const f = fakeProcess(100 * MiB);
  const pacer = new GcPacer(clock, f.proc, options);
  pacer.start();
  return { clock, f, pacer };
}

describe("GcPacer", () => {
  test("collects only after the RSS grew by the threshold, then from the new baseline", () => {
    const { clock, f, pacer } = startedPacer();
    f.grow(0, 3 * MiB);
    clock.advance(1000);
    expect(f.p.collections).toBe(0);
    f.grow(0, 2 * MiB); // 5 MiB over the baseline
    clock.advance(1000);
    expect(f.p.collections).toBe(1);
    expect(f.p.rss).toBe(100 * MiB);
    // Live growth (a session's prefixes) moves the baseline up: no collection every second.
    f.grow(6 * MiB, 0);
    clock.advance(1000);
    expect(f.p.collections).toBe(2);
    clock.advance(5000);
    expect(f.p.collections).toBe(2);
    expect(pacer.collections).toBe(2);
  });

  test("leaves a busy process to the engine", () => {
    const { clock, f } = startedPacer();
    for (let s = 0; s < 5; s++) {
      f.grow(0, 20 * MiB);
      f.p.cpu += 300; // 30 % of a core: relaying fast
      clock.advance(1000);
    }
    expect(f.p.collections).toBe(0);
    f.p.cpu += 20; // 2 %: a slow far end
    clock.advance(1000);
    expect(f.p.collections).toBe(1);
    expect(f.p.rss).toBe(100 * MiB);
    // The collection's own 7 ms do not make the next look busy.
    f.grow(0, 5 * MiB);
    clock.advance(1000);
    expect(f.p.collections).toBe(2);
  });

  test("collections take at most the budget's share of the time", () => {
    const { clock, f } = startedPacer({ ...OPTIONS, budgetShare: 0.002 });
    // Each collection costs 7 ms of CPU: at 0.2 % the next may come 3.5 s later.
    for (let s = 0; s < 10; s++) {
      f.grow(0, 5 * MiB);
      clock.advance(1000);
    }
    // Collections at 1 s, 5 s (3.5 s later, on the next look), 9 s.
    expect(f.p.collections).toBe(3);
  });

  // A burst rule collects once everyBytes of relayed data were allocated, and no sooner again
  // than its budget allows: a collection's CPU time (fakeProcess: young 0.2 ms, full 7 ms)
  // over the rule's budgetShare.
  const BURSTS = [
    { collection: "young", everyBytes: 4 * MiB, budgetShare: 0.02, gapMs: 10 },
    { collection: "full", everyBytes: 2 * MiB, budgetShare: 0.05, gapMs: 140 },
  ] as const;
  for (const rule of BURSTS) {
    test(`a burst rule: ${rule.collection} collections after everyBytes of relayed data, at most one per ${rule.gapMs} ms`, () => {
      const { clock, f, pacer } = startedPacer(
        withBurst({
          everyBytes: rule.everyBytes,
          collection: rule.collection,
          budgetShare: rule.budgetShare,
        }),
      );
      const made = () => (rule.collection === "young" ? f.p.young : f.p.collections);
      const other = () => (rule.collection === "young" ? f.p.collections : f.p.young);
      f.grow(0, 6 * MiB);
      pacer.allocated(rule.everyBytes - 1 * MiB);
      expect(made()).toBe(0);
      pacer.allocated(1 * MiB);
      expect(made()).toBe(1);
      // A full collection frees the garbage; a young one leaves it to the engine.
      expect(f.p.rss).toBe(rule.collection === "full" ? 100 * MiB : 106 * MiB);
      // Within the budget's gap none again, whatever was allocated.
      clock.advance(rule.gapMs - 1);
      pacer.allocated(3 * rule.everyBytes);
      expect(made()).toBe(1);
      clock.advance(1);
      pacer.allocated(rule.everyBytes);
      expect(made()).toBe(2);
      expect(other()).toBe(0);
      expect(pacer.burstCollections).toBe(2);
      pacer.stop();
    });
  }

  test("with growthBytes, only once the external memory grew by that much", () => {
    const full = withBurst({ ...FULL_EVERY_MIB, growthBytes: 3 * MiB, budgetShare: 0.05 });
    const { clock, f, pacer } = startedPacer(full);
    pacer.allocated(1 * MiB); // the first look sets the low mark
    // The engine keeps up by itself: relayed bytes alone do not collect.
    for (let i = 0; i < 10; i++) {
      f.grow(0, 1 * MiB);
      f.proc.collectYoung();
      f.p.external -= f.p.garbage;
      f.p.rss -= f.p.garbage;
      f.p.garbage = 0;
      pacer.allocated(1 * MiB);
    }
    expect(f.p.collections).toBe(0);
    // Garbage piles up: a full collection once 3 MiB more than the low mark.
    f.grow(0, 2 * MiB);
    pacer.allocated(1 * MiB);
    expect(f.p.collections).toBe(0);
    f.grow(1 * MiB, 0);
    pacer.allocated(1 * MiB);
    expect(f.p.collections).toBe(1);
    // The low mark is now what the collection left (the live MiB): 3 MiB more again.
    clock.advance(1000);
    f.grow(0, 2.5 * MiB);
    pacer.allocated(1 * MiB);
    expect(f.p.collections).toBe(1);
    f.grow(0, 0.5 * MiB);
    pacer.allocated(1 * MiB);
    expect(f.p.collections).toBe(2);
    pacer.stop();
  });

  test("with rssGrowthBytes, only once the RSS grew by that much, from what the last one left", () => {
    const rule = { ...FULL_EVERY_MIB, rssGrowthBytes: 6 * MiB, budgetShare: 0.05 };
    const { clock, f, pacer } = startedPacer(withBurst(rule));
    /** `garbage` more bytes, a MiB relayed, then `collections` collections in all so far. */
    const relay = (garbage: number, collections: number) => {
      f.grow(0, garbage);
      pacer.allocated(1 * MiB);
      expect(f.p.collections).toBe(collections);
    };
    relay(0, 0); // the first look sets the low mark (100 MiB)
    // Memory outside the ArrayBuffers (native buffers) counts too: 5 MiB is not enough.
    f.p.rss += 3 * MiB;
    relay(2 * MiB, 0);
    relay(1 * MiB, 1);
    expect(f.p.rss).toBe(103 * MiB); // the native 3 MiB stays: the new low mark
    // A fast transfer whose garbage stays under 6 MiB above that: no more collections.
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      f.grow(0, 5 * MiB);
      pacer.allocated(1 * MiB);
      f.p.rss -= f.p.garbage; // the engine collected by itself
      f.p.external -= f.p.garbage;
      f.p.garbage = 0;
    }
    relay(6 * MiB, 2);
    pacer.stop();
  });

  test("with windowBytes, only in the first bytes after a quiet spell", () => {
    const windowed = withBurst({
      ...FULL_EVERY_MIB,
      windowBytes: 4 * MiB,
      quietMs: 250,
      budgetShare: 1,
    });
    const { clock, f, pacer } = startedPacer(windowed);
    // A long fast transfer: a message every 10 ms; collections in its first 4 MiB only.
    for (let i = 0; i < 20; i++) {
      pacer.allocated(1 * MiB);
      clock.advance(10);
    }
    expect(f.p.collections).toBe(4);
    // Quiet for longer than 250 ms: the next burst gets its 4 MiB again.
    clock.advance(300);
    for (let i = 0; i < 20; i++) {
      pacer.allocated(1 * MiB);
      clock.advance(10);
    }
    expect(f.p.collections).toBe(8);
    // A pause shorter than that does not.
    clock.advance(200);
    pacer.allocated(1 * MiB);
    expect(f.p.collections).toBe(8);
    pacer.stop();
  });

  test("per 2 MiB relayed (4 MiB of garbage): the gateway's pacer collects young, the agent's in full, the default not", () => {
    const clock = new ManualClock();
    const f = fakeProcess(100 * MiB);
    for (const [options, young, full] of [
      [DEFAULT_GC_PACER, 0, 0],
      [GATEWAY_GC_PACER, 1, 0],
      [AGENT_GC_PACER, 0, 1],
    ] as const) {
      const pacer = new GcPacer(clock, f.proc, options);
      pacer.start();
      const before = { young: f.p.young, full: f.p.collections };
      pacer.allocated(1 * MiB);
      f.grow(0, 4 * MiB);
      pacer.allocated(1 * MiB);
      expect([f.p.young - before.young, f.p.collections - before.full]).toEqual([young, full]);
      pacer.stop();
      clock.advance(1000);
    }
  });

  test("a drop in RSS lowers the baseline; stop() ends the checks", () => {
    const { clock, f, pacer } = startedPacer();
    f.p.rss = 90 * MiB; // the engine collected by itself
    clock.advance(1000);
    f.grow(0, 4 * MiB);
    clock.advance(1000);
    expect(f.p.collections).toBe(1);
    pacer.stop();
    f.grow(0, 40 * MiB);
    clock.advance(10_000);
    expect(f.p.collections).toBe(1);
  });
});

describe("GcPacer: a full collection when a Data stream is held back (held rule)", () => {
  const HELD = { ...OPTIONS, held: GATEWAY_GC_HELD };

  test("after a burst, once quiet: one full collection, then none until more was relayed", () => {
    const { clock, f, pacer } = startedPacer(HELD);
    for (let i = 0; i < 4; i++) {
      f.grow(0, 512 * 1024);
      pacer.allocated(512 * 1024);
      clock.advance(1);
    }
    // Still relaying (the last message 1 ms ago): not yet.
    expect(pacer.held()).toBe(false);
    clock.advance(GATEWAY_GC_HELD.quietMs);
    expect(pacer.held()).toBe(true);
    expect(f.p).toMatchObject({ collections: 1, garbage: 0 });
    // Held on (the far end still slow): nothing more to collect.
    clock.advance(1000);
    expect(pacer.held()).toBe(false);
    // Less than minBytes since: none.
    pacer.allocated(512 * 1024);
    clock.advance(1000);
    expect(pacer.held()).toBe(false);
    pacer.allocated(512 * 1024);
    clock.advance(1000);
    expect(pacer.held()).toBe(true);
    expect(pacer.heldCollections).toBe(2);
  });

  test("within its budget (from the last collection's CPU), and never without the rule", () => {
    const { clock, f, pacer } = startedPacer(HELD);
    const burst = () => {
      pacer.allocated(2 * MiB);
      clock.advance(GATEWAY_GC_HELD.quietMs);
    };
    burst();
    expect(pacer.held()).toBe(true); // 7 ms of CPU: the next one 140 ms later at 5 %
    burst();
    expect(pacer.held()).toBe(false);
    clock.advance(140 - GATEWAY_GC_HELD.quietMs);
    expect(pacer.held()).toBe(true);
    expect(f.p.collections).toBe(2);
    const without = startedPacer(OPTIONS);
    without.pacer.allocated(64 * MiB);
    without.clock.advance(1000);
    expect(without.pacer.held()).toBe(false);
    expect(without.f.p.collections).toBe(0);
  });

  test("a burst rule's full collection counts: held finds nothing to do right after it", () => {
    const { clock, f, pacer } = startedPacer({ ...HELD, bursts: [AGENT_GC_BURST] });
    for (let i = 0; i < 4; i++) {
      f.grow(0, 1 * MiB);
      pacer.allocated(1 * MiB);
    }
    expect(f.p.collections).toBe(1);
    clock.advance(1000);
    expect(pacer.held()).toBe(false);
  });
});

describe("ProcessGcPacer: one pacer per process, for every role in it", () => {
  function processPacer() {
    const clock = new ManualClock();
    const f = fakeProcess(100 * MiB);
    return { clock, f, shared: new ProcessGcPacer(clock, () => f.proc) };
  }

  test("combined options: the strictest RSS look; each distinct burst rule once", () => {
    expect(combinedGcPacer([DEFAULT_GC_PACER, GATEWAY_GC_PACER])).toEqual(GATEWAY_GC_PACER);
    expect(combinedGcPacer([GATEWAY_GC_PACER, DEFAULT_GC_PACER])).toEqual(GATEWAY_GC_PACER);
    expect(combinedGcPacer([GATEWAY_GC_PACER, { ...GATEWAY_GC_PACER }])).toEqual(GATEWAY_GC_PACER);
    const a = { ...OPTIONS, intervalMs: 250, budgetShare: 0.005 };
    const b = { ...OPTIONS, growthBytes: 1 * MiB, busyShare: 0.3 };
    expect(combinedGcPacer([a, b])).toEqual({
      ...OPTIONS,
      intervalMs: 250,
      growthBytes: 1 * MiB,
      busyShare: 0.3,
      budgetShare: 0.01,
    });
    expect(() => combinedGcPacer([])).toThrow(RangeError);
  });

  test("agent and gateway: both burst rules side by side, not one merged field by field", () => {
    expect(combinedGcPacer([AGENT_GC_PACER, GATEWAY_GC_PACER])).toEqual({
      ...DEFAULT_GC_PACER,
      bursts: [AGENT_GC_BURST, GATEWAY_GC_BURST, GATEWAY_GC_FULL_BURST],
      held: GATEWAY_GC_HELD,
    });
    const a = { ...OPTIONS, held: { minBytes: 2 * MiB, quietMs: 10, budgetShare: 0.01 } };
    const b = { ...OPTIONS, held: { minBytes: 1 * MiB, quietMs: 50, budgetShare: 0.05 } };
    expect(combinedGcPacer([a, b]).held).toEqual({
      minBytes: 1 * MiB,
      quietMs: 10,
      budgetShare: 0.05,
    });
    expect(combinedGcPacer([OPTIONS, OPTIONS]).held).toBeUndefined();
  });

  for (const order of ["gateway first", "agent first"] as const) {
    test(`agent and gateway in one process (${order}): young collections every 2 MiB, full ones only in the agent's window`, () => {
      const { clock, f, shared } = processPacer();
      const roles = [GATEWAY_GC_PACER, AGENT_GC_PACER];
      if (order === "agent first") roles.reverse();
      const stops = roles.map((options) => shared.start(options));
      /** `mib` Data messages of 1 MiB, 10 ms apart, each leaving 1 MiB of garbage behind
       * (busy: 5 ms of CPU each, so the RSS look leaves them to the engine). */
      const transfer = (mib: number) => {
        const before = { young: f.p.young, full: f.p.collections };
        for (let i = 0; i < mib; i++) {
          f.grow(0, 1 * MiB);
          f.p.cpu += 5;
          shared.allocated(1 * MiB);
          clock.advance(10);
        }
        return { young: f.p.young - before.young, full: f.p.collections - before.full };
      };
      // A session's first burst: the agent's full collections once its ArrayBuffers grew by
      // 3 MiB, within 20 % of the time (7 ms: one per 4 MiB here); each starts the gateway's
      // 2 MiB afresh, so one young collection between two full ones (16 without that).
      const burst = transfer(32);
      expect(burst).toEqual({ young: 8, full: 8 });
      // The long fast transfer after it: young collections every 2 MiB, no full ones.
      expect(transfer(64)).toEqual({ young: 32, full: 0 });
      // Quiet for 300 ms: the next burst gets the agent's full collections again. The fake's
      // young collections free nothing, so the long transfer left the RSS 64 MiB above the
      // gateway's RSS rule's low mark: with the gateway's rules looked at first, that rule
      // collects once at the burst's first MiB (the agent's then counts afresh); with the
      // agent's first, the agent's collection comes first and the RSS rule counts afresh.
      clock.advance(300);
      const again = transfer(32);
      expect(again.young).toBe(burst.young);
      expect(again.full - burst.full).toBe(order === "gateway first" ? 1 : 0);
      for (const stop of stops) stop();
    });
  }

  test("a role joining keeps the running burst rules' counters", () => {
    const { clock, f, shared } = processPacer();
    const stopGateway = shared.start(GATEWAY_GC_PACER);
    shared.allocated(1 * MiB);
    const stopAgent = shared.start(AGENT_GC_PACER);
    shared.allocated(1 * MiB);
    expect(f.p).toMatchObject({ young: 1, collections: 0 });
    clock.advance(10); // the young collection's budget
    stopAgent();
    shared.allocated(2 * MiB);
    expect(f.p).toMatchObject({ young: 2, collections: 0 });
    stopGateway();
  });

  test("ref-counted: runs until the last role stops, with the options of those left", () => {
    const { clock, f, shared } = processPacer();
    const stopAgent = shared.start(OPTIONS);
    const stopGateway = shared.start(withBurst({ everyBytes: 2 * MiB }));
    const pacer = shared.running;
    expect(clock.pending).toBe(1);
    stopGateway();
    stopGateway(); // idempotent: the agent's role stays
    expect(shared.running).toBe(pacer);
    expect(shared.options).toEqual(OPTIONS);
    shared.allocated(64 * MiB);
    expect(f.p.young).toBe(0);
    f.grow(0, 5 * MiB);
    clock.advance(OPTIONS.intervalMs);
    expect(f.p.collections).toBe(1);
    stopAgent();
    expect(shared.running).toBeUndefined();
    expect(clock.pending).toBe(0);
    shared.allocated(64 * MiB);
    f.grow(0, 40 * MiB);
    clock.advance(10_000);
    expect(f.p).toMatchObject({ young: 0, collections: 1 });
    // A role starting again gets a fresh pacer.
    const again = shared.start(OPTIONS);
    expect(shared.running).not.toBe(pacer);
    again();
  });

  test("agent and gateway in one process: each relayed byte counts once (the gateway's notes)", () => {
    const { f, shared, clock } = processPacer();
    const young = withBurst({ everyBytes: 2 * MiB, budgetShare: 1 });
    /** `n` messages of 1 MiB, each noted by both ends (encoded by one, decoded by the other). */
    const relay = (n: number, by: readonly ("agent" | "gateway")[]) => {
      const before = f.p.young;
      for (let i = 0; i < n; i++) {
        for (const end of by) shared.allocated(1 * MiB, end);
        clock.advance(10);
      }
      return f.p.young - before;
    };
    const stopAgent = shared.start(young, "agent");
    expect(shared.counting).toBe("agent");
    // An agent alone: its own notes count (it encodes up, decodes down).
    expect(relay(8, ["agent"])).toBe(4);
    const stopGateway = shared.start(young, "gateway");
    expect(shared.counting).toBe("gateway");
    // Both: 8 MiB relayed is 8 MiB counted, not 16 (the agent's notes of the same bytes drop).
    expect(relay(8, ["agent", "gateway"])).toBe(4);
    stopAgent();
    expect(relay(8, ["gateway"])).toBe(4);
    stopGateway();
    // Notes without an end (older callers) always count.
    const stop = shared.start(young);
    clock.advance(80);
    shared.allocated(2 * MiB);
    expect(f.p.young).toBe(13);
    stop();
  });

  test("the Data codec notes each message with its end: once per byte in a process with both", () => {
    const data = proxyServiceDefinition.data;
    const message = { action: DataAction.UNSPECIFIED, data: [new Uint8Array(1 * MiB)] };
    const young = withBurst({ everyBytes: 4 * MiB, budgetShare: 1 });
    const stops = [processGcPacer.start(young, "agent"), processGcPacer.start(young, "gateway")];
    try {
      // Up (agent encodes, gateway decodes) and down (gateway encodes, agent decodes): 4 MiB.
      for (let i = 0; i < 2; i++) {
        data.responseDeserialize(data.responseSerialize(message));
        expect(processGcPacer.running?.burstCollections).toBe(0);
        data.requestDeserialize(data.requestSerialize(message));
      }
      expect(processGcPacer.running?.burstCollections).toBe(1);
    } finally {
      for (const stop of stops) stop();
    }
  });

  test("noteRelayAllocation reaches this process's pacer (a real young collection)", () => {
    expect(processGcPacer.running).toBeUndefined();
    noteRelayAllocation(64 * MiB); // no role: nothing, no error
    const stop = processGcPacer.start(withBurst({ everyBytes: 1 * MiB }));
    try {
      noteRelayAllocation(1 * MiB);
      expect(processGcPacer.running?.burstCollections).toBe(1);
    } finally {
      stop();
    }
    expect(processGcPacer.running).toBeUndefined();
  });
});
