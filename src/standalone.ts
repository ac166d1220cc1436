import { type RunningAgent, startAgent } from "./agent/agent.ts";
import type { StandaloneConfig } from "./config/types.ts";
import { hostPort } from "./core/address.ts";
import type { Logger } from "./core/logger.ts";
import { DemoRouter } from "./demo/demo-router.ts";
import { DEMO_TABLE } from "./demo/demo-table.ts";
import { type RunningGateway, startGateway } from "./gateway/gateway.ts";

/** How long stopping waits for the routers to end their connections after the Cease. */
const ROUTERS_LEAVE_MS = 1_000;

/** Resolves once `agent` relays no session, or after `ms`. */
async function sessionsGone(agent: RunningAgent, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (agent.status().sessions.length > 0 && Date.now() < until) await Bun.sleep(10);
}

/**
 * `bgproxy standalone`: an agent and a gateway with its built-in collector in one process,
 * talking gRPC over loopback. The quickest way to see a router's session arrive.
 */
export interface RunningStandalone {
  readonly agent: RunningAgent;
  readonly gateway: RunningGateway;
  /** With --demo: the built-in router. */
  readonly demo?: DemoRouter;
  close(): Promise<void>;
}

export async function startStandalone(
  config: StandaloneConfig,
  logger: Logger,
): Promise<RunningStandalone> {
  const log = logger.child({ component: "standalone" });
  if (config.acceptAny) {
    log.warn(
      "no --config given: every router that connects is accepted and terminated in the built-in collector",
    );
  }
  const gateway = await startGateway(config.gateway, logger);
  let agent: RunningAgent;
  try {
    agent = await startAgent(
      { ...config.agent, target: { host: config.agent.target.host, port: gateway.port } },
      logger,
    );
  } catch (err) {
    await gateway.close();
    throw err;
  }
  const firstPort = agent.listening[0]?.port;
  const demo =
    config.demo && firstPort !== undefined
      ? new DemoRouter(
          {
            target: { host: config.demo.connectHost, port: firstPort },
            source: config.demo.source,
          },
          logger.child({ component: "demo" }),
        )
      : undefined;
  demo?.start();
  const peerAt = agent.listening.map((l) => hostPort(l.host, l.port)).join(", ");
  const api = `http://${hostPort(config.gateway.httpListen.host, gateway.httpPort)}/api/devices`;
  const page = `http://${hostPort(config.gateway.httpListen.host, gateway.httpPort)}/`;
  const agentStatus = `http://${hostPort(config.agent.metrics.addr, agent.metricsPort)}`;
  log.info("standalone stack ready", {
    router_peer_address: peerAt,
    collector_asn: config.gateway.collector.asn,
    devices_api: api,
    status_page: page,
    agent_status: agentStatus,
  });
  process.stderr.write(
    `\nbgproxy standalone is up.\n` +
      `  Peer your router with ${peerAt} (remote AS ${config.gateway.collector.asn}).\n` +
      `  Sessions and prefix counts: curl ${api}?pretty  (or open ${page})\n` +
      `  Agent status and metrics: curl ${agentStatus}/admin/status?pretty, ${agentStatus}/metrics\n` +
      (config.demo
        ? `  A demo router (AS ${DEMO_TABLE.asn}) peers from ${config.demo.source} and announces ${DEMO_TABLE.ipv4} IPv4 + ${DEMO_TABLE.ipv6} IPv6 prefixes,\n` +
          `  changing ${DEMO_TABLE.churnSlice} of each every 5 s (without it: --demo=false).\n`
        : "") +
      `  Stop with Ctrl-C.\n\n`,
  );
  return {
    agent,
    gateway,
    ...(demo ? { demo } : {}),
    async close() {
      demo?.close();
      // Gateway first, without the drain (there is no next gateway to restart towards): its
      // collector sends each router Cease / Administrative Shutdown through the agent, which
      // must still be relaying to carry it.
      await gateway.close({ drain: false });
      // Each router then ends its connection (the Cease, then the agent's FIN): the agent's
      // sessions close as they do, unless a router takes longer than this.
      await sessionsGone(agent, ROUTERS_LEAVE_MS);
      await agent.close();
    },
  };
}
