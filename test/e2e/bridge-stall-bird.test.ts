/**
 * A partition longer than the router's hold time but shorter than the agent's transport
 * tolerance (240 s), with real processes: BIRD in R peers with the agent in P; the gateway
 * (built-in collector, hold time 9 s, so the session's is 9 s) runs in C; the P–C link is
 * taken down inside P for 25 s. The agent sends BIRD KEEPALIVEs in the stalled far end's
 * place, so BIRD's session never leaves Established; the collector's hold timer expires
 * meanwhile, and once the link is back its NOTIFICATION is dropped and the session is
 * bridged onto a new collector session, which gets BIRD's whole table (route refresh).
 */
import { describe, expect, test } from "bun:test";
import { SINCE_JITTER_MS, sinceApartMs } from "../support/bird.ts";
import {
  BRIDGE_LOG,
  collectorHolds,
  routerEstablished,
  useRouterBirdStack,
} from "../support/bridge-stack.ts";
import { run } from "../support/process.ts";
import { canRunNetns, skipNote } from "../support/root.ts";

const V4 = ["10.255.238.0/24", "10.255.239.0/24"];
const V6 = ["fd00:255:238::/48"];
const HOLD_TIME = 9;

describe.skipIf(!canRunNetns)(`e2e: a stalled far end covered by the agent${skipNote}`, () => {
  const env = useRouterBirdStack(
    {
      collector: true,
      gatewayInC: true,
      grpc: ({ pc }) => `${pc?.b.ipv4}:19449`,
      spec: ({ rp }) => ({
        collector: { asn: 64512, routerId: "192.0.2.1", holdTime: HOLD_TIME },
        devices: [{ name: "edge-r1", id: 1001, ip: rp.a.ipv4, target: "collector" }],
      }),
      listen: ({ rp }) => [`${rp.b.ipv4}:179`],
    },
    V4,
    V6,
  );
  const diagnostics = env.diagnostics;

  test("a 25 s partition (hold time 9 s): BIRD stays Established; the collector gets the table again", async () => {
    const { stack, router } = env;
    const before = await routerEstablished(router, diagnostics);
    await collectorHolds(stack.gateway, V4.length, V6.length, { diagnostics });
    const ifname = stack.topo.pc?.a.ifname ?? "";
    const ns = stack.topo.proxy.name;
    await run(["ip", "link", "set", ifname, "down"], { netns: ns });
    await new Promise((resolve) => setTimeout(resolve, 25_000));
    // Still inside the partition: BIRD's session is up on the agent's KEEPALIVEs alone.
    const during = await routerEstablished(router, diagnostics);
    expect(sinceApartMs(during.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
    await stack.agent.waitForRecord("the far end is silent: KEEPALIVEs to the router", 1_000);
    await run(["ip", "link", "set", ifname, "up"], { netns: ns });
    await stack.agent.waitForRecord(BRIDGE_LOG.tookOver, 30_000);
    const device = await collectorHolds(stack.gateway, V4.length, V6.length, {
      timeoutMs: 30_000,
      diagnostics,
    });
    expect(device.sessions_total).toBe(2);
    const after = await routerEstablished(router, diagnostics);
    expect(sinceApartMs(after.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
  }, 120_000);
});
