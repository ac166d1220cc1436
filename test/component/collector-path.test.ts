import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { Afi, MessageType } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { decodeOpen, encodeOpen } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import type { DeviceView } from "../../src/gateway/device-view.ts";
import { DUAL_STACK_CAPS } from "../support/bgp-router.ts";
import { type Stack, startStack } from "../support/stack.ts";
import { waitUntil } from "../support/wait.ts";

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function devices(s: Stack): Promise<DeviceView[]> {
  const res = await fetch(`http://127.0.0.1:${s.gateway.httpPort}/api/devices`);
  return (await res.json()) as DeviceView[];
}

/** A scripted BGP router: OPEN, then whatever the test writes; collects what comes back. */
function scriptedRouter(port: number) {
  const socket: Socket = connect({ host: "127.0.0.1", port });
  const framer = new BgpFramer();
  const received: { type: number; body: Uint8Array }[] = [];
  socket.on("data", (d: Buffer) => {
    for (const f of framer.push(new Uint8Array(d)))
      received.push({ type: f.type, body: f.body.slice() });
  });
  return { socket, received };
}

/** A scripted router brought to Established with 3 IPv4 + 2 IPv6 prefixes, and the device then. */
async function establishedRouter(s: Stack) {
  const router = scriptedRouter(s.routerPort);
  await new Promise((r) => router.socket.once("connect", r));
  router.socket.write(
    encodeOpen({
      asn: 65001,
      holdTime: 90,
      routerId: "10.0.0.1",
      capabilities: DUAL_STACK_CAPS,
    }),
  );
  const open = await waitUntil(() => router.received.find((m) => m.type === MessageType.OPEN), {
    timeoutMs: 5_000,
    what: "the collector's OPEN",
  });
  const theirs = decodeOpen(open.body);
  expect(theirs.asn).toBe(64512);
  expect(theirs.routerId).toBe("192.0.2.1");
  router.socket.write(encodeKeepalive());
  router.socket.write(
    encodeUpdate({
      origin: 0,
      asPath: [65001, 65010],
      nextHop: "10.0.0.1",
      nlri: ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.128/25"],
    }),
  );
  router.socket.write(
    encodeUpdate({
      origin: 0,
      asPath: [65001],
      mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:100::/48", "2001:db8:200::/48"] },
    }),
  );
  const established = await waitUntil(
    async () => {
      const d = (await devices(s))[0];
      return d && d.state === "established" && d.prefixes.ipv4 === 3 && d.prefixes.ipv6 === 2
        ? d
        : undefined;
    },
    { timeoutMs: 5_000, what: "the device to be established with 3 + 2 prefixes" },
  );
  return { router, established };
}

/** A stack whose one device, edge-r1 at 127.0.0.1, ends in the built-in collector. */
async function startCollectorStack(): Promise<Stack> {
  stack = await startStack({
    collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
    devices: [
      { name: "edge-r1", id: 1001, site: 0, ip: "127.0.0.1", target: { kind: "collector" } },
    ],
  });
  return stack;
}

describe("a session ending in the built-in collector", () => {
  test("reaches Established and its prefixes show in /api/devices; a withdrawal lowers them", async () => {
    const s = await startCollectorStack();
    const { router, established } = await establishedRouter(s);
    expect(established.updates).toBe(2);
    expect(established.sessions).toBe(1);

    router.socket.write(encodeUpdate({ withdrawn: ["203.0.113.0/24"] }));
    router.socket.write(
      encodeUpdate({ mpUnreach: { afi: Afi.IPV6, withdrawn: ["2001:db8:200::/48"] } }),
    );
    await waitUntil(
      async () => {
        const d = (await devices(s))[0];
        return d && d.prefixes.ipv4 === 2 && d.prefixes.ipv6 === 1;
      },
      { timeoutMs: 5_000, what: "the withdrawals to lower the prefix counts" },
    );

    router.socket.end();
    await waitUntil(
      async () => {
        const d = (await devices(s))[0];
        return d && d.state === "idle" && d.sessions === 0 && d.prefixes.ipv4 === 0;
      },
      { timeoutMs: 10_000, what: "the device to go idle after the router closed" },
    );
  }, 30_000);

  // Issue 15 item 1: a second connection from the router's address (a probe, a port scan,
  // a parallel session attempt) must not erase what the Established session shows.
  test("a bare TCP connect from the device's address leaves its Established session's state alone", async () => {
    const s = await startCollectorStack();
    const { router } = await establishedRouter(s);

    const probe = connect({ host: "127.0.0.1", port: s.routerPort });
    await new Promise((r) => probe.once("connect", r));
    // The probe's session reaches the gateway (two sessions open), then ends.
    await waitUntil(async () => ((await devices(s))[0]?.sessions_total === 2 ? true : undefined), {
      timeoutMs: 5_000,
      what: "the probe's session at the gateway",
    });
    probe.end();
    await waitUntil(
      async () => {
        const d = (await devices(s))[0];
        return d && d.sessions === 1 && d.sessions_total === 2 ? d : undefined;
      },
      { timeoutMs: 10_000, what: "the probe's session to end at the gateway" },
    );
    const after = (await devices(s))[0];
    expect(after?.state).toBe("established");
    expect(after?.prefixes).toEqual({ ipv4: 3, ipv6: 2 });
    const metrics = await (await fetch(`http://127.0.0.1:${s.gateway.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^bgproxy_gateway_device_established\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^bgproxy_gateway_device_prefixes\{[^}]*afi="ipv4"[^}]*\} 3$/m);
    expect(router.socket.destroyed).toBe(false);
    router.socket.end();
  }, 30_000);

  test("malformed input is answered with a NOTIFICATION and the router connection closes", async () => {
    stack = await startStack({
      devices: [
        { name: "edge-r1", id: 1001, site: 0, ip: "127.0.0.1", target: { kind: "collector" } },
      ],
    });
    const router = scriptedRouter(stack.routerPort);
    await new Promise((r) => router.socket.once("connect", r));
    const closed = new Promise((r) => router.socket.once("close", r));
    // A header with a broken marker: Message Header Error / Connection Not Synchronized.
    const bad = Buffer.alloc(19, 0xff);
    bad[3] = 0;
    bad.writeUInt16BE(19, 16);
    bad[18] = 4;
    router.socket.write(bad);
    const note = await waitUntil(
      () => router.received.find((m) => m.type === MessageType.NOTIFICATION),
      {
        timeoutMs: 5_000,
        what: "a NOTIFICATION",
      },
    );
    expect(note.body[0]).toBe(1); // Message Header Error
    expect(note.body[1]).toBe(1); // Connection Not Synchronized
    await closed;
  }, 30_000);
});
