/**
 * BGP-aware bridging with real processes: a BIRD router in namespace R peers with
 * `bgproxy agent` in P, relayed to `bgproxy gateway` (built-in collector) in P
 * (test/support/bridge-stack.ts). The gateway is killed with SIGKILL, or stopped with
 * SIGTERM (a drain: RESTART on the Data stream), and started again on the same address, or
 * the agent's HTTP/2 connection is reset:
 * the router's session never leaves Established (BIRD's "since" is unchanged, no error),
 * and the new gateway's collector ends up with exactly the router's prefixes, sent again
 * through a route refresh.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { GatewayProcess } from "../support/bgproxy-process.ts";
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

const V4 = ["10.255.230.0/24", "10.255.231.0/24", "10.255.232.0/24"];
const V6 = ["fd00:255:230::/48", "fd00:255:231::/48"];
const GRPC_PORT = "19443";

describe.skipIf(!canRunNetns)(
  `e2e bridging: the gateway killed, stopped or its connection reset${skipNote}`,
  () => {
    const env = useRouterBirdStack(
      {
        collector: false,
        grpc: `127.0.0.1:${GRPC_PORT}`,
        spec: collectorSpec(),
        listen: ({ rp }) => [`${rp.b.ipv4}:179`],
      },
      V4,
      V6,
    );
    const diagnostics = env.diagnostics;

    const established = () => routerEstablished(env.router, diagnostics);

    const fullTable = (g: GatewayProcess) =>
      collectorHolds(g, V4.length, V6.length, { diagnostics });

    const takeovers = () => env.stack.agent.find(BRIDGE_LOG.tookOver).length;

    test("kill -9 and restart: the router's session never leaves Established; the new collector gets the full table", async () => {
      await established();
      await fullTable(env.stack.gateway);
      const before = await established();

      await env.stack.restartGateway("kill");
      await env.stack.agent.waitForRecord(BRIDGE_LOG.tookOver, 30_000);
      expect(env.stack.agent.find(BRIDGE_LOG.lost).length).toBeGreaterThan(0);
      const device = await fullTable(env.stack.gateway);
      expect(device.sessions_total).toBe(1);

      const after = await established();
      expect(sinceApartMs(after.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
      // No NOTIFICATION either way, no error on the protocol since it came up.
      const details = (await env.router?.birdc("show", "protocols", "all", "to_agent")) ?? "";
      expect(details).toContain("Established");
      expect(details).not.toContain("Last error");
      const log = env.router ? readFileSync(env.router.logPath, "utf8") : "";
      expect(log).not.toMatch(/to_agent: (Received|Error)/);
    }, 90_000);

    test("SIGTERM (a drain: RESTART) and restart: the session still never leaves Established", async () => {
      const before = await established();
      const seen = takeovers();
      const stopped = await env.stack.restartGateway("term");
      // SIGTERM drains: RESTART on the Data stream, which the agent answers; its re-open
      // finds no gateway holding the session (the draining one let it go), so it bridges.
      expect(stopped.find("draining: RESTART sent on every Data stream")).toHaveLength(1);
      expect(
        env.stack.agent.find("RESTART completed: re-opening the session on a new Data stream"),
      ).toHaveLength(1);
      await waitUntil(() => takeovers() > seen, {
        timeoutMs: 30_000,
        what: "a second take-over",
        diagnostics,
      });
      await fullTable(env.stack.gateway);
      const after = await established();
      expect(sinceApartMs(after.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
    }, 90_000);

    test("an HTTP/2 connection reset (ss -K): bridged onto a new connection to the same gateway", async () => {
      const before = await established();
      const seen = takeovers();
      const sessionsBefore = (await env.stack.gateway.device("edge-r1")).sessions_total;
      // Destroy the agent's TCP connections to the gateway (the kernel resets them).
      await run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", GRPC_PORT], {
        netns: env.stack.topo.proxy.name,
      });
      await waitUntil(() => takeovers() > seen, {
        timeoutMs: 30_000,
        what: "a take-over after the reset",
        diagnostics,
      });
      const device = await fullTable(env.stack.gateway);
      expect(device.sessions_total).toBe(sessionsBefore + 1);
      const after = await established();
      expect(sinceApartMs(after.since, before.since)).toBeLessThan(SINCE_JITTER_MS);
    }, 60_000);
  },
);
