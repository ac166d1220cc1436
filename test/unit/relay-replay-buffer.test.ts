import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { planResume, ReplayBuffer, ReplayError } from "../../src/relay/replay-buffer.ts";
import { prng } from "../support/prng.ts";

const msg = (...bytes: number[]): Uint8Array[] => [Uint8Array.from(bytes)];

describe("ReplayBuffer", () => {
  test("holds sent messages until acknowledged, by reference", () => {
    const b = new ReplayBuffer(1000);
    const m0 = msg(1, 2);
    const m1 = msg(3);
    b.record(m0, 2);
    b.record(m1, 1);
    expect(b.sent).toBe(2);
    expect(b.heldBytes).toBe(3);
    expect(b.acknowledge(1)).toBeUndefined();
    expect(b.confirmed).toBe(1);
    expect(b.heldBytes).toBe(1);
    const replay = b.replayFrom(1);
    expect(replay).toEqual([m1]);
    expect((replay as Uint8Array[][])[0]).toBe(m1); // the same array, not a copy
  });

  test("a late (lower) acknowledgement is ignored; one above what was sent is an error", () => {
    const b = new ReplayBuffer(1000);
    b.record(msg(1), 1);
    b.record(msg(2), 1);
    b.acknowledge(2);
    expect(b.acknowledge(1)).toBeUndefined();
    expect(b.heldMessages).toBe(0);
    const err = b.acknowledge(3);
    expect(err).toBeInstanceOf(ReplayError);
    expect(err?.mismatch).toBe("ahead");
    expect(err?.retryable).toBe(false);
  });

  test("replay from below the confirmed count is 'behind'", () => {
    const b = new ReplayBuffer(1000, 5);
    b.record(msg(1), 1);
    b.acknowledge(6);
    const r = b.replayFrom(5);
    expect(r).toBeInstanceOf(ReplayError);
    expect((r as ReplayError).mismatch).toBe("behind");
    expect(b.replayFrom(6)).toEqual([]);
  });

  test("past the limit it lets everything go and can only resume a peer that has it all", () => {
    const b = new ReplayBuffer(4);
    expect(b.record(msg(1, 2, 3), 3)).toBe(true);
    expect(b.record(msg(4, 5), 2)).toBe(false);
    expect(b.overflowed).toBe(true);
    expect(b.heldBytes).toBe(0);
    expect(b.record(msg(6), 1)).toBe(false);
    expect(b.sent).toBe(3);
    const r = b.replayFrom(1);
    expect((r as ReplayError).mismatch).toBe("overflowed");
    expect(b.replayFrom(3)).toEqual([]);
  });

  test("counts carried over from earlier streams (alreadySent)", () => {
    const b = new ReplayBuffer(1000, 10);
    b.record(msg(9), 1);
    expect(b.sent).toBe(11);
    expect(b.replayFrom(10)).toEqual([msg(9)]);
  });

  test("planResume refuses a peer that claims to have sent less than was received", () => {
    const b = new ReplayBuffer(1000);
    const r = planResume(b, 3, { sent: 2, received: 0 });
    expect((r as ReplayError).mismatch).toBe("ahead");
  });

  test("many messages acknowledged in steps keep memory to what is unconfirmed", () => {
    const b = new ReplayBuffer(1 << 20);
    for (let i = 0; i < 10_000; i++) {
      b.record(msg(i & 255), 1);
      if (i % 100 === 99) b.acknowledge(i - 9);
    }
    expect(b.heldMessages).toBe(10_000 - 9_990);
    expect(b.replayFrom(9_990)).toHaveLength(10);
  });
});

/**
 * Both directions of a session over streams that are cut at random: each side sends
 * numbered chunks, the peer acknowledges every few messages, a cut loses whatever was in
 * flight (a prefix of it may have arrived), and the next stream reconciles with planResume.
 * The bytes each side hands on must be exactly the bytes the other sent, in order.
 */
describe("resume over a lossy link (model)", () => {
  interface Side {
    buffer: ReplayBuffer;
    received: number;
    out: Buffer[];
    sentBytes: Buffer[];
  }
  const side = (limit: number): Side => ({
    buffer: new ReplayBuffer(limit),
    received: 0,
    out: [],
    sentBytes: [],
  });
  const sha = (parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest("hex");

  for (const seed of [1, 2, 3, 4, 5]) {
    test(`seed ${seed}: no byte lost, duplicated or reordered`, () => {
      const rnd = prng(seed);
      const a = side(1 << 20);
      const g = side(1 << 20);
      // In-flight messages of the current stream, per direction.
      let toG: Uint8Array[][] = [];
      let toA: Uint8Array[][] = [];
      let counter = 0;
      const send = (from: Side, wire: Uint8Array[][]) => {
        const chunk = Buffer.alloc(1 + Math.floor(rnd() * 300), counter++ & 255);
        from.sentBytes.push(chunk);
        const data = [chunk];
        from.buffer.record(data, chunk.length);
        wire.push(data);
      };
      const deliver = (to: Side, from: Side, wire: Uint8Array[][], n: number) => {
        for (const data of wire.splice(0, n)) {
          for (const c of data) to.out.push(Buffer.from(c));
          to.received++;
          // The receiver acknowledges every 4th message (the relay's ack threshold).
          if (to.received % 4 === 0) from.buffer.acknowledge(to.received);
        }
      };
      let cuts = 0;
      for (let step = 0; step < 3_000; step++) {
        const r = rnd();
        if (r < 0.3) send(a, toG);
        else if (r < 0.6) send(g, toA);
        else if (r < 0.79) deliver(g, a, toG, 1 + Math.floor(rnd() * 3));
        else if (r < 0.98) deliver(a, g, toA, 1 + Math.floor(rnd() * 3));
        else {
          // Cut: part of what is in flight arrives, the rest is lost with the stream.
          deliver(g, a, toG, Math.floor(rnd() * (toG.length + 1)));
          deliver(a, g, toA, Math.floor(rnd() * (toA.length + 1)));
          toG = [];
          toA = [];
          cuts++;
          const aReplay = planResume(a.buffer, a.received, {
            sent: g.buffer.sent,
            received: g.received,
          });
          const gReplay = planResume(g.buffer, g.received, {
            sent: a.buffer.sent,
            received: a.received,
          });
          if (aReplay instanceof ReplayError) throw aReplay;
          if (gReplay instanceof ReplayError) throw gReplay;
          toG = [...aReplay];
          toA = [...gReplay];
        }
      }
      deliver(g, a, toG, toG.length);
      deliver(a, g, toA, toA.length);
      expect(cuts).toBeGreaterThan(10);
      expect(sha(g.out)).toBe(sha(a.sentBytes));
      expect(sha(a.out)).toBe(sha(g.sentBytes));
      expect(a.buffer.heldMessages).toBeLessThan(4);
      expect(g.buffer.heldMessages).toBeLessThan(4);
    });
  }
});
