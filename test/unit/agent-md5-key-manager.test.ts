import { describe, expect, test } from "bun:test";
import {
  type KeyAuth,
  type KeyedListener,
  Md5KeyManager,
  ZERO_TTL_KEY_SECONDS,
} from "../../src/agent/md5/md5-key-manager.ts";
import type { SynPacket } from "../../src/agent/md5/syn-packet.ts";
import { BgpProxyError } from "../../src/core/errors.ts";
import { ControlAction, type ControlResponse, type FiveTuple } from "../../src/proto/messages.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ManualClock } from "../support/manual-clock.ts";

const V4A: KeyedListener = { fd: 10, family: 4, label: "0.0.0.0:179", dualStack: false };
const V4B: KeyedListener = { fd: 11, family: 4, label: "10.255.1.2:1179", dualStack: false };
const V6: KeyedListener = { fd: 12, family: 6, label: "[::]:179", dualStack: false };
const SECRET = "s3cret-key";
const bytes = (s: string) => new TextEncoder().encode(s);

function syn(source: string, over: Partial<SynPacket> = {}): SynPacket {
  return {
    family: source.includes(":") ? 6 : 4,
    source,
    sourcePort: 40_000,
    destination: source.includes(":") ? "fd00::2" : "10.255.1.2",
    destinationPort: 179,
    md5: true,
    ...over,
  };
}

function answer(t: FiveTuple, over: Partial<ControlResponse> = {}): ControlResponse {
  return {
    ...t,
    ttlSeconds: 60,
    ttlCounter: 0,
    action: ControlAction.UNSPECIFIED,
    metadata: [],
    companyId: 1,
    deviceId: 7,
    deviceName: "r1",
    tcpMd5: bytes(SECRET),
    ...over,
  };
}

type Op = {
  op: "install" | "remove";
  fd: number;
  peer: string;
  key?: string;
  auth: string;
  v4Mapped: boolean;
};

/** A manager over a recording installer and a scripted gateway. */
function setup(
  opts: {
    script?: (t: FiveTuple) => ControlResponse | Promise<ControlResponse>;
    listeners?: KeyedListener[];
    maxKeys?: number;
    maxInFlight?: number;
    tcpAo?: boolean;
    failOn?: (fd: number) => Error | undefined;
    denied?: Set<string>;
  } = {},
) {
  const clock = new ManualClock();
  const logs = captureLogs();
  const ops: Op[] = [];
  const asked: FiveTuple[] = [];
  const answers: ControlResponse[] = [];
  const kernel = new Map<string, string>(); // `${fd}|${peer}` -> key
  const manager = new Md5KeyManager({
    listeners: () => opts.listeners ?? [V4A, V4B, V6],
    installer: {
      install(l, peer, key, auth: KeyAuth, v4Mapped) {
        const err = opts.failOn?.(l.fd);
        if (err) throw err;
        const k = new TextDecoder().decode(key);
        ops.push({ op: "install", fd: l.fd, peer, key: k, auth: auth.kind, v4Mapped });
        kernel.set(`${l.fd}|${peer}`, k);
      },
      remove(l, peer, auth, v4Mapped) {
        ops.push({ op: "remove", fd: l.fd, peer, auth: auth.kind, v4Mapped });
        kernel.delete(`${l.fd}|${peer}`);
      },
    },
    ask: async (t) => {
      asked.push(t);
      return (opts.script ?? ((x) => answer(x)))(t);
    },
    onAnswer: (r) => answers.push(r),
    isDenied: (ip) => opts.denied?.has(ip) ?? false,
    tcpAo: opts.tcpAo ?? false,
    clock,
    logger: logs.logger,
    maxKeys: opts.maxKeys,
    maxInFlight: opts.maxInFlight,
  });
  return { clock, logs, ops, asked, answers, kernel, manager };
}

describe("Md5KeyManager: learning a key from a signed SYN", () => {
  test("one request with the SYN's 5-tuple; the key goes on every listener of the family", async () => {
    const s = setup();
    s.manager.onSignedSyn(syn("10.255.1.1", { sourcePort: 41_000 }));
    await s.manager.settled();
    expect(s.asked).toEqual([
      {
        proto: "BGP",
        deviceIp: "10.255.1.1",
        devicePort: 41_000,
        proxyIp: "10.255.1.2",
        proxyPort: 179,
      },
    ]);
    expect(s.answers).toHaveLength(1);
    expect([...s.kernel.entries()].sort()).toEqual([
      ["10|10.255.1.1", SECRET],
      ["11|10.255.1.1", SECRET],
    ]);
    expect(s.manager.hasKey("10.255.1.1")).toBe(true);
    expect(s.manager.status()).toMatchObject({ keysInstalled: 1, requests: 1 });
  });

  test("IPv6 devices get their key on the IPv6 listeners only", async () => {
    const s = setup();
    s.manager.onSignedSyn(syn("fd00::1"));
    await s.manager.settled();
    expect([...s.kernel.keys()]).toEqual(["12|fd00::1"]);
  });

  test("an IPv4 device's key takes the v4-mapped form on a dual-stack IPv6 listener", async () => {
    const dual: KeyedListener = { fd: 20, family: 6, label: "[::]:179", dualStack: true };
    const s = setup({ listeners: [dual] });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.ops).toEqual([
      { op: "install", fd: 20, peer: "10.255.1.1", key: SECRET, auth: "md5", v4Mapped: true },
    ]);
  });

  test("concurrent SYNs from one device share one request; other devices ask their own", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const s = setup({
      script: async (t) => {
        await gate;
        return answer(t);
      },
    });
    for (let port = 0; port < 20; port++)
      s.manager.onSignedSyn(syn("10.255.1.1", { sourcePort: 40_000 + port }));
    s.manager.onSignedSyn(syn("10.255.1.3"));
    release();
    await s.manager.settled();
    expect(s.asked.map((t) => t.deviceIp)).toEqual(["10.255.1.1", "10.255.1.3"]);
    // later SYNs (retransmits, a wrong password) find the key and ask nothing
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.asked).toHaveLength(2);
  });

  test("questions in flight are bounded: a flood of new devices is shed, logged once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const s = setup({
      maxInFlight: 3,
      script: async (t) => {
        await gate;
        return answer(t);
      },
    });
    for (let i = 1; i <= 10; i++) s.manager.onSignedSyn(syn(`10.0.0.${i}`));
    expect(s.asked).toHaveLength(3);
    expect(s.manager.status().shed).toBe(7);
    expect(s.logs.find(/too many signed SYNs/)).toHaveLength(1);
    release();
    await s.manager.settled();
    // room again: the next SYN (a retransmit) of a shed device is asked about
    s.manager.onSignedSyn(syn("10.0.0.9"));
    await s.manager.settled();
    expect(s.asked.map((t) => t.deviceIp)).toContain("10.0.0.9");
  });

  test("unsigned SYNs and deny-listed devices ask nothing", async () => {
    const s = setup({ denied: new Set(["10.255.1.9"]) });
    s.manager.onSignedSyn(syn("10.255.1.1", { md5: false }));
    s.manager.onSignedSyn(syn("10.255.1.9"));
    await s.manager.settled();
    expect(s.asked).toHaveLength(0);
  });

  test("BLOCK_IP: no key, the answer goes to admission (which deny-lists)", async () => {
    const s = setup({
      script: (t) => answer(t, { action: ControlAction.BLOCK_IP, tcpMd5: bytes("") }),
    });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.kernel.size).toBe(0);
    expect(s.answers[0]?.action).toBe(ControlAction.BLOCK_IP);
  });

  test("an empty tcp_md5 installs nothing and is remembered for the TTL (no re-asking)", async () => {
    const s = setup({ script: (t) => answer(t, { tcpMd5: new Uint8Array(0), ttlSeconds: 30 }) });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.ops).toHaveLength(0);
    expect(s.asked).toHaveLength(1);
    expect(s.manager.status()).toMatchObject({ keysInstalled: 0, devicesWithoutKey: 1 });
    s.clock.advance(30_000);
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.asked).toHaveLength(2);
  });

  test("a failed request is logged, counted, and the next SYN asks again", async () => {
    let n = 0;
    const s = setup({
      script: (t) => {
        n++;
        if (n === 1) throw new BgpProxyError("transport", "no answer from the gateway");
        return answer(t);
      },
    });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.manager.status().requestFailures).toBe(1);
    expect(s.logs.find(/no key for a signed SYN/)).toHaveLength(1);
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.manager.hasKey("10.255.1.1")).toBe(true);
  });
});

describe("Md5KeyManager: TTL, replacement, bound", () => {
  test("the key is removed from every socket when its TTL runs out", async () => {
    const s = setup({ script: (t) => answer(t, { ttlSeconds: 5 }) });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.kernel.size).toBe(2);
    s.clock.advance(4_999);
    expect(s.kernel.size).toBe(2);
    s.clock.advance(1);
    expect(s.kernel.size).toBe(0);
    expect(
      s.ops
        .filter((o) => o.op === "remove")
        .map((o) => o.fd)
        .sort(),
    ).toEqual([10, 11]);
    expect(s.manager.status()).toMatchObject({ keysInstalled: 0, expired: 1 });
    expect(s.logs.find("removed a TCP-MD5 key: its TTL ran out")).toHaveLength(1);
  });

  test("ttl_seconds 0 keeps the key long enough for the router's retransmit", async () => {
    const s = setup({ script: (t) => answer(t, { ttlSeconds: 0 }) });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    s.clock.advance(ZERO_TTL_KEY_SECONDS * 1000 - 1);
    expect(s.manager.hasKey("10.255.1.1")).toBe(true);
    s.clock.advance(1);
    expect(s.manager.hasKey("10.255.1.1")).toBe(false);
  });

  test("the same key again refreshes the TTL without touching the kernel", async () => {
    const s = setup({ script: (t) => answer(t, { ttlSeconds: 10 }) });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    const before = s.ops.length;
    s.clock.advance(8_000);
    s.manager.learn(
      answer(
        {
          proto: "BGP",
          deviceIp: "10.255.1.1",
          devicePort: 1,
          proxyIp: "10.255.1.2",
          proxyPort: 179,
        },
        { ttlSeconds: 10 },
      ),
    );
    expect(s.ops.length).toBe(before);
    s.clock.advance(8_000);
    expect(s.manager.hasKey("10.255.1.1")).toBe(true);
    s.clock.advance(2_000);
    expect(s.manager.hasKey("10.255.1.1")).toBe(false);
  });

  test("a changed key replaces the old on every socket; an empty one removes it", async () => {
    const s = setup();
    const t: FiveTuple = {
      proto: "BGP",
      deviceIp: "10.255.1.1",
      devicePort: 1,
      proxyIp: "10.255.1.2",
      proxyPort: 179,
    };
    s.manager.learn(answer(t));
    s.manager.learn(answer(t, { tcpMd5: bytes("new-key") }));
    expect([...s.kernel.values()]).toEqual(["new-key", "new-key"]);
    expect(s.manager.status()).toMatchObject({ keysInstalled: 1, replaced: 1 });
    expect(s.logs.find("replaced a TCP-MD5 key")).toHaveLength(1);
    s.manager.learn(answer(t, { tcpMd5: new Uint8Array(0) }));
    expect(s.kernel.size).toBe(0);
    expect(s.manager.status()).toMatchObject({ keysInstalled: 0, devicesWithoutKey: 1 });
  });

  test("a pushed answer updates a known device only; a pushed block removes its key", () => {
    const s = setup();
    const t: FiveTuple = {
      proto: "BGP",
      deviceIp: "10.255.1.1",
      devicePort: 1,
      proxyIp: "10.255.1.2",
      proxyPort: 179,
    };
    s.manager.refresh(answer({ ...t, deviceIp: "10.255.1.7" }));
    expect(s.kernel.size).toBe(0);
    s.manager.learn(answer(t));
    s.manager.refresh(answer(t, { tcpMd5: bytes("pushed") }));
    expect([...s.kernel.values()]).toEqual(["pushed", "pushed"]);
    s.manager.refresh(answer(t, { action: ControlAction.BLOCK_IP }));
    expect(s.kernel.size).toBe(0);
  });

  test("the table is bounded: the least recently refreshed device is evicted, once logged", () => {
    const s = setup({ maxKeys: 3, listeners: [V4A] });
    const t = (n: number): FiveTuple => ({
      proto: "BGP",
      deviceIp: `10.0.0.${n}`,
      devicePort: 1,
      proxyIp: "10.0.0.254",
      proxyPort: 179,
    });
    for (const n of [1, 2, 3]) s.manager.learn(answer(t(n)));
    s.manager.learn(answer(t(1))); // refresh 1: 2 is now the oldest
    s.manager.learn(answer(t(4)));
    s.manager.learn(answer(t(5)));
    expect([...s.kernel.keys()].sort()).toEqual(["10|10.0.0.1", "10|10.0.0.4", "10|10.0.0.5"]);
    expect(s.manager.status()).toMatchObject({ keysInstalled: 3, evicted: 2 });
    expect(s.logs.find(/key table full/)).toHaveLength(1);
  });

  test("an install failure (ENOMEM) is logged with the optmem_max hint; the key is not kept", async () => {
    const s = setup({
      listeners: [V4A],
      failOn: () => new BgpProxyError("internal", "TCP_MD5SIG for 10.255.1.1: ENOMEM"),
    });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.manager.hasKey("10.255.1.1")).toBe(false);
    expect(s.manager.status().installFailures).toBe(1);
    const err = s.logs.find(/cannot install the key/)[0];
    expect(String(err?.msg)).toContain("net.core.optmem_max");
    // the next signed SYN asks again
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    expect(s.asked).toHaveLength(2);
  });

  test("a failed replacement leaves no old key behind", () => {
    let fail = false;
    const s = setup({ listeners: [V4A], failOn: () => (fail ? new Error("ENOMEM") : undefined) });
    const t: FiveTuple = {
      proto: "BGP",
      deviceIp: "10.255.1.1",
      devicePort: 1,
      proxyIp: "10.255.1.2",
      proxyPort: 179,
    };
    s.manager.learn(answer(t));
    fail = true;
    s.manager.learn(answer(t, { tcpMd5: bytes("other") }));
    expect(s.kernel.size).toBe(0);
    expect(s.manager.hasKey("10.255.1.1")).toBe(false);
  });

  test("a listener that refuses the new key does not keep the old one", () => {
    let failFd: number | undefined;
    const s = setup({
      listeners: [V4A, V4B],
      failOn: (fd) => (fd === failFd ? new Error("ENOMEM") : undefined),
    });
    const t: FiveTuple = {
      proto: "BGP",
      deviceIp: "10.255.1.1",
      devicePort: 1,
      proxyIp: "10.255.1.2",
      proxyPort: 179,
    };
    s.manager.learn(answer(t));
    failFd = V4B.fd;
    s.manager.learn(answer(t, { tcpMd5: bytes("next") }));
    expect([...s.kernel.entries()]).toEqual([["10|10.255.1.1", "next"]]);
    expect(s.manager.hasKey("10.255.1.1")).toBe(true);
    s.manager.learn(answer(t, { tcpMd5: new Uint8Array(0) }));
    expect(s.kernel.size).toBe(0);
  });

  test("no key ever appears in a log line", async () => {
    const s = setup({ script: (t) => answer(t, { ttlSeconds: 1 }) });
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    s.manager.learn(
      answer(
        {
          proto: "BGP",
          deviceIp: "10.255.1.1",
          devicePort: 1,
          proxyIp: "10.255.1.2",
          proxyPort: 179,
        },
        { tcpMd5: bytes("rotated-key") },
      ),
    );
    s.clock.advance(60_000);
    expect(s.logs.lines.length).toBeGreaterThan(2);
    for (const line of s.logs.lines) {
      expect(line).not.toContain(SECRET);
      expect(line).not.toContain("rotated-key");
    }
  });

  test("after close, timers are gone and nothing more is asked or installed", async () => {
    const s = setup();
    s.manager.onSignedSyn(syn("10.255.1.1"));
    await s.manager.settled();
    s.manager.close();
    expect(s.clock.pending).toBe(0);
    s.manager.onSignedSyn(syn("10.255.1.5"));
    await s.manager.settled();
    expect(s.asked).toHaveLength(1);
  });
});

describe("Md5KeyManager: TCP-AO", () => {
  test("where the kernel has TCP-AO, an AO SYN installs an AO key with the SYN's key ids", async () => {
    const s = setup({ tcpAo: true, listeners: [V4A] });
    s.manager.onSignedSyn(syn("10.255.1.1", { md5: false, ao: { keyId: 3, rnextKeyId: 4 } }));
    await s.manager.settled();
    expect(s.ops).toEqual([
      { op: "install", fd: 10, peer: "10.255.1.1", key: SECRET, auth: "ao", v4Mapped: false },
    ]);
  });

  test("without TCP-AO in the kernel, an AO SYN is warned about once and asks nothing", async () => {
    const s = setup({ tcpAo: false });
    for (let i = 0; i < 3; i++) {
      s.manager.onSignedSyn(syn("10.255.1.1", { md5: false, ao: { keyId: 1, rnextKeyId: 1 } }));
    }
    await s.manager.settled();
    expect(s.asked).toHaveLength(0);
    expect(s.logs.find(/offers TCP-AO/)).toHaveLength(1);
  });
});
