/**
 * Graceful RESTART with real daemons: a BIRD router in namespace R peers with `bgproxy
 * agent` in P; `bgproxy gateway` in P forwards the session to a BIRD daemon in C. The
 * gateway RESTARTs every Data stream without draining (POST /admin/restart-streams), then
 * the agent RESTARTs its session (POST /admin/restart): each time the agent re-opens the
 * session with the same session-id and counters and the gateway re-attaches it to the
 * daemon connection it kept open. The daemon never notices (its session's "since" is
 * unchanged, one connection), the router neither, nothing is bridged, and the daemon holds
 * exactly the router's prefixes. Resume after a lost stream stays off (agent default).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Bird, SINCE_JITTER_MS, sinceApartMs } from "../support/bird.ts";
import {
  BRIDGE_LOG,
  type BridgeStack,
  birdHolds,
  forwardSpec,
  routerEstablished,
  startBridgeStack,
  startForwardedBird,
  startRouterBird,
} from "../support/bridge-stack.ts";
import { run } from "../support/process.ts";
import { canRunNetns, skipNote } from "../support/root.ts";
import { waitUntil } from "../support/wait.ts";

const V4 = ["10.255.240.0/24", "10.255.241.0/24", "10.255.242.0/24"];
const V6 = ["fd00:255:240::/48", "fd00:255:241::/48"];
const AGENT_STATUS_PORT = "20947";
const REATTACHED = "session resumed on a new Data stream";

describe.skipIf(!canRunNetns)(`e2e graceful RESTART: BIRD router, BIRD far end${skipNote}`, () => {
  let stack: BridgeStack;
  let router: Bird | undefined;
  let daemon: Bird | undefined;
  const diagnostics = () =>
    stack.diagnostics(
      [
        router ? `--- router BIRD\n${router.logTail(20)}` : "",
        daemon ? `--- far-end BIRD\n${daemon.logTail(20)}` : "",
      ].join("\n"),
    );

  /** POST to a loopback HTTP endpoint inside P. */
  const post = async (port: number | string, path: string) =>
    JSON.parse(
      (
        await run(["curl", "-sS", "-m", "3", "-X", "POST", `http://127.0.0.1:${port}${path}`], {
          netns: stack.topo.proxy.name,
          timeoutMs: 5_000,
        })
      ).stdout,
    ) as { kind: string; sessions: number };

  const daemonEstablished = () =>
    waitUntil(
      async () => {
        const s = await daemon?.protocolState("from_router");
        return s?.info.startsWith("Established") ? s : undefined;
      },
      { timeoutMs: 20_000, what: "far end: from_router Established", diagnostics },
    );

  const daemonHolds = () =>
    birdHolds(daemon, "from_router", [...V4, ...V6], { what: "far end: routes", diagnostics });

  beforeAll(async () => {
    stack = await startBridgeStack({
      collector: true,
      grpc: "127.0.0.1:19461",
      spec: forwardSpec("edge-r1", 1001),
      listen: ({ rp }) => [`${rp.b.ipv4}:179`],
      agentArgs: ["--metrics-port", AGENT_STATUS_PORT],
    });
    daemon = await startForwardedBird(stack, "from_router", "far-end");
    router = await startRouterBird(stack, V4, V6);
  }, 60_000);

  afterAll(async () => {
    await router?.stop();
    await daemon?.stop();
    await stack?.stop();
  }, 30_000);

  test("RESTART from the gateway, then from the agent: re-attached to the same daemon connection", async () => {
    const routerBefore = await routerEstablished(router, diagnostics);
    const daemonBefore = await daemonEstablished();
    await daemonHolds();

    expect(await post(stack.gateway.httpPort, "/admin/restart-streams")).toEqual({
      kind: "restarting",
      sessions: 1,
    });
    await waitUntil(() => stack.agent.find(REATTACHED).length >= 1, {
      timeoutMs: 15_000,
      what: "the re-attach after the gateway's RESTART",
      diagnostics,
    });
    expect(await post(AGENT_STATUS_PORT, "/admin/restart")).toEqual({
      kind: "restarting",
      sessions: 1,
    });
    await waitUntil(() => stack.agent.find(REATTACHED).length >= 2, {
      timeoutMs: 15_000,
      what: "the re-attach after the agent's RESTART",
      diagnostics,
    });

    await daemonHolds();
    const daemonAfter = await daemonEstablished();
    const routerAfter = await routerEstablished(router, diagnostics);
    expect(sinceApartMs(daemonAfter.since, daemonBefore.since)).toBeLessThan(SINCE_JITTER_MS);
    expect(sinceApartMs(routerAfter.since, routerBefore.since)).toBeLessThan(SINCE_JITTER_MS);
    expect(stack.agent.find(BRIDGE_LOG.lost)).toHaveLength(0);
    expect(stack.gateway.find(/^session re-attached to its far end/)).toHaveLength(2);
    const device = await stack.gateway.device("edge-r1");
    expect(device.sessions_total).toBe(1);
  }, 90_000);
});
