/**
 * The same device relayed by two agents at once, with real processes: a BIRD router in
 * namespace R has two sessions from the same address, one to `bgproxy agent` A and one to
 * agent B (both in P, both dialling the same gateway). The gateway's rule: a device is
 * relayed by one agent at a time — B's stream is refused, logged once, and A's session is
 * untouched (docs/resilience.md).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type BgproxyProcess, startAgentProcess } from "../support/bgproxy-process.ts";
import { Bird, sinceMs } from "../support/bird.ts";
import {
  type BridgeStack,
  collectorSpec,
  routerEstablished,
  startBridgeStack,
} from "../support/bridge-stack.ts";
import { addAddress } from "../support/netns.ts";
import { hostIn } from "../support/relay-topology.ts";
import { canRunNetns, skipNote } from "../support/root.ts";

const GRPC = "127.0.0.1:19447";
const REFUSED = "refused a second agent for a device another agent relays (first one stays)";

describe.skipIf(!canRunNetns)(`e2e: the same device on two agents${skipNote}`, () => {
  let stack: BridgeStack;
  let second: BgproxyProcess | undefined;
  let router: Bird | undefined;
  const diagnostics = () =>
    stack.diagnostics(
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        second ? `--- agent B\n${second.tail(20)}` : "",
      ].join("\n"),
    );

  beforeAll(async () => {
    stack = await startBridgeStack({
      collector: false,
      grpc: GRPC,
      spec: collectorSpec(),
      listen: ({ rp }) => [`${rp.b.ipv4}:179`],
    });
    const { rp } = stack.topo;
    const agentB = hostIn(rp, 4);
    await addAddress(stack.topo.proxy, rp.b.ifname, `${agentB}/24`);
    const neighbor = (name: string, address: string) => ({
      name,
      address,
      asn: 64512,
      localAddress: rp.a.ipv4,
      import: "none" as const,
    });
    router = await Bird.start(
      {
        routerId: rp.a.ipv4,
        asn: 65001,
        neighbors: [neighbor("to_a", rp.b.ipv4), neighbor("to_b", agentB)],
        static4: ["10.255.235.0/24"],
      },
      { netns: stack.topo.router, label: "router" },
    );
  }, 60_000);

  afterAll(async () => {
    await router?.stop();
    await second?.stop();
    await stack?.stop();
  }, 30_000);

  test("the second agent's stream is refused and logged once; the first session stays up", async () => {
    const bird = router;
    if (!bird) throw new Error("router BIRD not started");
    const up = () => routerEstablished(bird, diagnostics, "to_a");
    const before = await up();

    second = await startAgentProcess({
      netns: stack.topo.proxy,
      listen: [`${hostIn(stack.topo.rp, 4)}:179`],
      target: GRPC,
      label: "agent-b",
    });
    await stack.gateway.waitForRecord(REFUSED, 20_000);
    // BIRD tries again on its own schedule: give it the time for one more attempt.
    await new Promise((resolve) => setTimeout(resolve, 6_000));

    const refusals = stack.gateway.find(REFUSED);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: "warn", device: "edge-r1" });
    expect((await bird.protocolState("to_b"))?.info).not.toStartWith("Established");
    const after = await up();
    expect(Math.abs(sinceMs(after.since) - sinceMs(before.since))).toBeLessThan(50);
    const device = await stack.gateway.device("edge-r1");
    expect(device).toMatchObject({ state: "established", sessions: 1, sessions_total: 1 });
  }, 60_000);
});
