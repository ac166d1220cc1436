import { describe, expect, test } from "bun:test";
import type { SynPacket } from "../../src/agent/md5/syn-packet.ts";
import {
  type CaptureSource,
  SWEEP_MS,
  SynWatcher,
  type WatchedListener,
} from "../../src/agent/md5/syn-watcher.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { LINUX_SYN_OPTIONS, md5Option, tcpPacket } from "../support/tcp-packets.ts";

/** A capture socket fed by the test; `readable()` plays the kernel's SIGIO. */
class FakeSource implements CaptureSource {
  readonly queue: Uint8Array[] = [];
  onReadable?: () => void;
  closed = false;
  reads = 0;

  push(...packets: Uint8Array[]): void {
    this.queue.push(...packets);
  }
  readable(): void {
    this.onReadable?.();
  }
  receive(buf: Uint8Array): number | undefined {
    this.reads++;
    const p = this.queue.shift();
    if (!p) return undefined;
    buf.set(p.subarray(0, buf.byteLength));
    return p.byteLength;
  }
  watch(onReadable: () => void): void {
    this.onReadable = onReadable;
  }
  statistics() {
    return { packets: 42, drops: 1 };
  }
  close(): void {
    this.closed = true;
  }
}

const LISTENERS: WatchedListener[] = [
  { host: "0.0.0.0", port: 179, family: 4 },
  { host: "fd00:255:1::2", port: 179, family: 6 },
];

function setup(listeners = LISTENERS) {
  const clock = new ManualClock();
  const source = new FakeSource();
  const seen: SynPacket[] = [];
  const logs = captureLogs();
  const watcher = new SynWatcher({
    source,
    listeners: () => listeners,
    onSignedSyn: (s) => seen.push(s),
    clock,
    logger: logs.logger,
  });
  watcher.start();
  return { clock, source, seen, watcher };
}

const signed4 = (src: string, srcPort = 40_000) =>
  tcpPacket({ src, dst: "10.255.1.2", srcPort, options: [...md5Option(), ...LINUX_SYN_OPTIONS] });

describe("SynWatcher", () => {
  test("a readiness event drains every waiting packet; signed SYNs to a listener are handed on", () => {
    const { source, seen, watcher } = setup();
    source.push(
      signed4("10.255.1.1"),
      tcpPacket({ src: "10.255.1.3", dst: "10.255.1.2", options: LINUX_SYN_OPTIONS }),
      tcpPacket({ src: "fd00:255:1::1", dst: "fd00:255:1::2", options: md5Option() }),
    );
    source.readable();
    expect(source.queue).toHaveLength(0);
    expect(seen.map((s) => s.source)).toEqual(["10.255.1.1", "fd00:255:1::1"]);
    expect(watcher.status()).toMatchObject({
      syns: 3,
      signedSyns: 2,
      foreign: 0,
      malformed: 0,
      captured: 42,
      dropped: 1,
      packetsBySweep: 0,
    });
  });

  test("SYNs to an address or port no listener has are not handed on", () => {
    const { source, seen, watcher } = setup();
    source.push(
      tcpPacket({ src: "10.255.1.1", dst: "10.255.1.2", dstPort: 1179, options: md5Option() }),
      tcpPacket({ src: "fd00:255:1::1", dst: "fd00:255:1::9", options: md5Option() }),
      Uint8Array.from([0x45, 0, 0]),
    );
    source.readable();
    expect(seen).toHaveLength(0);
    expect(watcher.status()).toMatchObject({ syns: 0, foreign: 2, malformed: 1 });
  });

  test("a burst larger than one batch is read over several turns, none lost", async () => {
    const { source, seen } = setup();
    for (let i = 0; i < 3000; i++) source.push(signed4(`10.${i >> 8}.${i & 255}.1`));
    source.readable();
    expect(seen.length).toBe(1024);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(seen.length).toBe(3000);
    expect(new Set(seen.map((s) => s.source)).size).toBe(3000);
  });

  test("the sweep finds packets a lost wake-up would have left, and counts them", () => {
    const { clock, source, seen, watcher } = setup();
    source.push(signed4("10.255.1.1"));
    clock.advance(SWEEP_MS);
    expect(seen).toHaveLength(1);
    expect(watcher.status().packetsBySweep).toBe(1);
    clock.advance(SWEEP_MS);
    expect(watcher.status().packetsBySweep).toBe(1);
  });

  test("the sweep leaves the socket alone in a period that had signals", () => {
    const { clock, source, seen, watcher } = setup();
    source.readable();
    source.push(signed4("10.255.1.1"));
    clock.advance(SWEEP_MS);
    expect(seen).toHaveLength(0);
    clock.advance(SWEEP_MS);
    expect(seen).toHaveLength(1);
    expect(watcher.status().packetsBySweep).toBe(1);
  });

  test("packets the kernel dropped (buffer full) are warned about once per sweep that sees new ones", () => {
    const { clock, source } = setup();
    const logs = captureLogs();
    let drops = 0;
    source.statistics = () => ({ packets: 10, drops });
    const watcher = new SynWatcher({
      source,
      listeners: () => LISTENERS,
      onSignedSyn: () => {},
      clock,
      logger: logs.logger,
    });
    watcher.start();
    clock.advance(SWEEP_MS);
    expect(logs.find(/lost packets/)).toHaveLength(0);
    drops = 3;
    clock.advance(SWEEP_MS);
    clock.advance(SWEEP_MS);
    drops = 5;
    clock.advance(SWEEP_MS);
    expect(logs.find(/lost packets/).map((r) => r.dropped)).toEqual([3, 2]);
    watcher.close();
  });

  test("wasSigned drains first, then knows the signed connection by its 4-tuple", () => {
    const { clock, source, watcher } = setup();
    source.push(signed4("10.255.1.1", 45_000));
    // no readiness event delivered yet: the check itself reads the socket
    const tuple = {
      proto: "BGP",
      deviceIp: "10.255.1.1",
      devicePort: 45_000,
      proxyIp: "10.255.1.2",
      proxyPort: 179,
    };
    expect(watcher.wasSigned(tuple)).toBe(true);
    expect(watcher.wasSigned({ ...tuple, devicePort: 45_001 })).toBe(false);
    source.push(tcpPacket({ src: "10.255.1.4", dst: "10.255.1.2", srcPort: 45_002 }));
    expect(watcher.wasSigned({ ...tuple, deviceIp: "10.255.1.4", devicePort: 45_002 })).toBe(false);
    clock.advance(121_000);
    expect(watcher.wasSigned(tuple)).toBe(false);
  });

  test("close stops the sweep and closes the socket; later events read nothing", () => {
    const { clock, source, watcher } = setup();
    watcher.close();
    expect(source.closed).toBe(true);
    expect(clock.pending).toBe(0);
    const reads = source.reads;
    source.push(signed4("10.255.1.1"));
    source.readable();
    expect(source.reads).toBe(reads);
  });

  test("a read error is logged once and does not throw out of the handler", () => {
    const logs = captureLogs();
    const clock = new ManualClock();
    const source = new FakeSource();
    source.receive = () => {
      throw new Error("recv on the SYN capture socket: ENETDOWN");
    };
    const watcher = new SynWatcher({
      source,
      listeners: () => LISTENERS,
      onSignedSyn: () => {},
      clock,
      logger: logs.logger,
    });
    watcher.start();
    source.readable();
    source.readable();
    expect(logs.find(/ENETDOWN/)).toHaveLength(1);
    watcher.close();
  });
});
