/**
 * A burst of signed SYNs: 300 routers (150 IPv4 and 150 IPv6 source addresses in namespace R,
 * each with its own key) open their TCP-MD5 connections to the agent at the same instant
 * (test/fixtures/native/md5-connect.c; the kernel signs every SYN). The gateway is the
 * stand-in (test/support/md5-fake-gateway.ts), which logs every ControlRequest it receives,
 * so the count is taken where the requests arrive. Each device must cause exactly one
 * ControlRequest, and every connection must complete on the routers' first SYN retransmit
 * (about 1 s): a first SYN missed by the capture would only be seen at the second one (3 s).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BgproxyProcess } from "../support/bgproxy-process.ts";
import { gccAvailable, gccSkipNote } from "../support/c-program.ts";
import {
  addAddresses,
  type ConnectResult,
  type FakeGateway,
  type SignedConnect,
  signedConnects,
  startFakeGateway,
  startMd5Agent,
} from "../support/md5-topology.ts";
import { destroyAllNetns } from "../support/netns.ts";
import { createRelayTopology, type RelayTopology } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const PER_FAMILY = 150;
/** The routers' first SYN retransmit comes after 1 s; the second after 3 s. */
const FIRST_RETRANSMIT_BOUND_MS = 2_500;

/**
 * Two capture buffers: the agent's own 4 MiB (SO_RCVBUFFORCE, CAP_NET_ADMIN), and the size a
 * container with Docker's default capabilities gets (no NET_ADMIN: SO_RCVBUF capped at the
 * default net.core.rmem_max, 212992 bytes, which the kernel reports doubled). The second is
 * set through BGPROXY_MD5_CAPTURE_BUFFER_BYTES, so that it does not depend on this host's
 * rmem_max (global, not per namespace).
 */
const BUFFERS: readonly { name: string; env: Record<string, string> }[] = [
  { name: "4 MiB capture buffer", env: {} },
  {
    name: "Docker default capabilities' buffer (2 x 212992 bytes)",
    env: { BGPROXY_MD5_CAPTURE_BUFFER_BYTES: "212992" },
  },
];

for (const buffer of BUFFERS)
  describe.skipIf(!canRunNetns || !gccAvailable)(
    `e2e TCP-MD5: a burst of 300 signed SYNs, ${buffer.name}${skipNote}${gccSkipNote}`,
    () => {
      let topo: RelayTopology;
      let gateway: FakeGateway | undefined;
      let agent: BgproxyProcess | undefined;
      const routers: SignedConnect[] = [];
      let result: ConnectResult;

      beforeAll(async () => {
        topo = await createRelayTopology({ collector: false });
        const { rp } = topo;
        const n = rp.subnet;
        for (let i = 0; i < PER_FAMILY; i++) {
          routers.push({
            source: `10.255.${n}.${100 + i}`,
            destination: rp.b.ipv4,
            key: `burst-4-${i}`,
          });
          routers.push({
            source: `fd00:255:${n}::1:${i.toString(16)}`,
            destination: rp.b.ipv6,
            key: `burst-6-${i}`,
          });
        }
        await addAddresses(
          topo.router,
          rp.a.ifname,
          routers.map((r) => `${r.source}/${r.source.includes(":") ? 64 : 24}`),
        );
        gateway = await startFakeGateway(
          topo.proxy,
          60,
          Object.fromEntries(routers.map((r) => [r.source, r.key])),
        );
        agent = await startMd5Agent({
          netns: topo.proxy,
          target: gateway.target,
          listen: [`${rp.b.ipv4}:179`, `[${rp.b.ipv6}]:179`],
          env: buffer.env,
        });
        // Held open 2 s after the last one connected, so that every session reaches the gateway.
        result = await signedConnects(topo.router, 179, routers, {
          timeoutMs: 8_000,
          holdMs: 2_000,
        });
      }, 60_000);

      afterAll(async () => {
        await agent?.stop();
        await gateway?.stop();
        await destroyAllNetns();
      }, 30_000);

      test("every connection completes, on the first retransmit", () => {
        expect(result.failed).toEqual([]);
        expect(result.connected).toBe(routers.length);
        const slowest = Math.max(...result.ms);
        expect(slowest).toBeLessThan(FIRST_RETRANSMIT_BOUND_MS);
        console.log(
          `burst: ${result.connected} signed connections, fastest ${Math.min(...result.ms)} ms, slowest ${slowest} ms`,
        );
      });

      test("the gateway received exactly one ControlRequest per device", () => {
        const asked = gateway?.requests() ?? [];
        expect(asked).toHaveLength(routers.length);
        expect(new Set(asked)).toEqual(new Set(routers.map((r) => r.source)));
      });

      test("every key was installed, the capture lost nothing, every session reached the gateway", async () => {
        const installed =
          agent?.find("installed a TCP-MD5 key").map((r) => String(r.device_ip)) ?? [];
        expect(installed).toHaveLength(routers.length);
        expect(new Set(installed)).toEqual(new Set(routers.map((r) => r.source)));
        expect(agent?.find(/SYN capture lost packets/)).toHaveLength(0);
        expect(agent?.find(/cannot install the key/)).toHaveLength(0);
        // The accepted connections reused the SYN's answer (no second question, above) and
        // each opened its Data stream.
        await waitUntil(() => (gateway?.find("data stream").length ?? 0) >= routers.length, {
          timeoutMs: 5_000,
          what: `${routers.length} Data streams at the gateway`,
          diagnostics: () => `${agent?.tail(10)}`,
        });
        expect(gateway?.find("data stream")).toHaveLength(routers.length);
      });

      test("the capture's own count at shutdown: every SYN read on a readiness signal, none dropped", async () => {
        await agent?.stop();
        const stopped = agent?.find("TCP-MD5 support stopped")[0];
        if (!stopped) throw new Error(`no "TCP-MD5 support stopped" record\n${agent?.tail(10)}`);
        const capture = stopped.capture as Record<string, number>;
        expect(capture.dropped).toBe(0);
        expect(capture.packetsBySweep).toBe(0);
        // The first SYN and its retransmit from each router, possibly more.
        expect(capture.signedSyns).toBeGreaterThanOrEqual(2 * routers.length);
        expect((stopped.keys as Record<string, number>).requests).toBe(routers.length);
        console.log(`burst: capture ${JSON.stringify(capture)}`);
      });
    },
  );
