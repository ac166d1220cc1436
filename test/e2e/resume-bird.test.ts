/**
 * Resume after a lost connection with real processes: a BIRD router in namespace R peers
 * with `bgproxy agent --resume-window 5` in P, relayed to `bgproxy gateway` (built-in
 * collector, resume grace 30 s by default) in P. The agent's HTTP/2 connection is reset
 * (`ss -K`) three times: each time the agent re-opens the Data stream with the same
 * session-id and counters and the gateway re-attaches it to the collector session it held.
 * Nothing is bridged, no new collector session starts, BIRD's session never leaves
 * Established, and the collector holds exactly the router's prefixes.
 */
import { describe, expect, test } from "bun:test";
import { SINCE_JITTER_MS, sinceApartMs } from "../support/bird.ts";
import {
  BRIDGE_LOG,
  collectorHolds,
  collectorSpec,
  routerEstablished,
  useRouterBirdStack,
} from "../support/bridge-stack.ts";
import { run } from "../support/process.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.240.0/24", "10.255.241.0/24", "10.255.242.0/24"];
const V6 = ["fd00:255:240::/48", "fd00:255:241::/48"];
const GRPC_PORT = "19453";
const RESUMED = "session resumed on a new Data stream";

describe.skipIf(!canRunNetns)(`e2e resume: HTTP/2 connection resets${skipNote}`, () => {
  const env = useRouterBirdStack(
    {
      collector: false,
      grpc: `127.0.0.1:${GRPC_PORT}`,
      spec: collectorSpec(),
      listen: ({ rp }) => [`${rp.b.ipv4}:179`],
      agentArgs: ["--resume-window", "5"],
    },
    V4,
    V6,
  );
  const diagnostics = env.diagnostics;

  test("ss -K three times: resumed on the same collector session, nothing bridged", async () => {
    const { stack, router } = env;
    const before = await routerEstablished(router, diagnostics);
    await collectorHolds(stack.gateway, V4.length, V6.length, { diagnostics });
    const sessionsBefore = (await stack.gateway.device("edge-r1")).sessions_total;
    for (let i = 1; i <= 3; i++) {
      await run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", GRPC_PORT], {
        netns: stack.topo.proxy.name,
      });
      await waitUntil(() => stack.agent.find(RESUMED).length >= i, {
        timeoutMs: 15_000,
        what: `resume number ${i}`,
        diagnostics,
      });
    }
    const device = await collectorHolds(stack.gateway, V4.length, V6.length, { diagnostics });
    expect(device.sessions_total).toBe(sessionsBefore);
    expect(stack.agent.find(BRIDGE_LOG.lost)).toHaveLength(0);
    const after = await routerEstablished(router, diagnostics);
    expect(sinceApartMs(after.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
  }, 90_000);
});
