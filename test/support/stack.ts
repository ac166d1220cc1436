/**
 * In-process agent + gateway on loopback port 0, for component tests: typed configs with
 * test-friendly defaults and one call to start and stop both.
 */
import { createServer, type Server, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { BgpSpeaker } from "../../src/collector/bgp-speaker.ts";
import type { AgentConfig, DeviceConfig, GatewayConfig } from "../../src/config/types.ts";
import { systemClock } from "../../src/core/clock.ts";
import { createLogger, type Logger, silentLogger } from "../../src/core/logger.ts";
import { sha256Hex } from "../../src/core/sha256.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";

export const TEST_EMAIL = "ops@example.net";
export const TEST_TOKEN = "t0ken-for-tests-0001";

/** Logs go nowhere unless BGPROXY_TEST_LOG=debug|info|... is set. */
export function testLogger(): Logger {
  const level = process.env.BGPROXY_TEST_LOG;
  if (!level) return silentLogger;
  return createLogger({
    level: level as "debug",
    human: true,
    write: (l) => process.stderr.write(`${l}\n`),
  });
}

export function gatewayConfig(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    listen: { host: "127.0.0.1", port: 0 },
    httpListen: { host: "127.0.0.1", port: 0 },
    insecure: true,
    accounts: [{ email: TEST_EMAIL, tokenSha256: sha256Hex(TEST_TOKEN), companyId: 7 }],
    collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
    devices: [],
    acceptAny: false,
    log: { level: "info", human: true },
    drainTimeoutMs: 1_000,
    lowerBackgroundThreads: true,
    ...overrides,
  };
}

export function agentConfig(
  gatewayPort: number,
  overrides: Partial<AgentConfig> = {},
): AgentConfig {
  return {
    email: TEST_EMAIL,
    token: TEST_TOKEN,
    region: "iad1",
    target: { host: "127.0.0.1", port: gatewayPort },
    insecure: true,
    listen: [{ host: "127.0.0.1", port: 0 }],
    siteId: 0,
    multi: 10,
    md5: { enabled: false, interface: "any" },
    metrics: { addr: "127.0.0.1", port: 0 },
    export: { logsDisabled: true, metricsDisabled: true, logUrl: "", metricsUrl: "" },
    log: { level: "info", human: true },
    heartbeat: { intervalMs: 10_000, timeoutMs: 30_000 },
    bridgeTimeoutMs: 300_000,
    lowerBackgroundThreads: true,
    ...overrides,
  };
}

export function forwardDevice(
  ip: string,
  daemonPort: number,
  extra: Partial<DeviceConfig> = {},
): DeviceConfig {
  return {
    name: `dev-${ip}`,
    id: 1001,
    site: 0,
    ip,
    target: { kind: "forward", forward: { host: "127.0.0.1", port: daemonPort } },
    ...extra,
  };
}

export interface Stack {
  agent: RunningAgent;
  gateway: RunningGateway;
  /** The agent's router-facing port. */
  routerPort: number;
  close(): Promise<void>;
}

export async function startStack(
  gw: Partial<GatewayConfig>,
  agent: (gatewayPort: number) => Partial<AgentConfig> = () => ({}),
): Promise<Stack> {
  const logger = testLogger();
  const gateway = await startGateway(gatewayConfig(gw), logger);
  let running: RunningAgent;
  try {
    running = await startAgent(agentConfig(gateway.port, agent(gateway.port)), logger);
  } catch (err) {
    await gateway.close();
    throw err;
  }
  const routerPort = running.listening[0]?.port ?? 0;
  return {
    agent: running,
    gateway,
    routerPort,
    async close() {
      await running.close();
      await gateway.close();
    },
  };
}

/** A TCP server standing in for a BGP daemon: hands each connection to `onSocket`. */
export async function startDaemon(
  onSocket: (socket: Socket) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

/**
 * A forwarded device's daemon: a passive BGP speaker (AS 64600, 192.0.2.66) per connection.
 * `onData` runs after each chunk the speaker received.
 */
export function startSpeakerDaemon(
  onData?: (socket: Socket, speaker: BgpSpeaker) => void,
): Promise<{ server: Server; port: number }> {
  return startDaemon((socket) => {
    socket.on("error", () => {});
    const speaker = new BgpSpeaker({
      localAsn: 64600,
      routerId: "192.0.2.66",
      clock: systemClock,
      onSend: (b) => socket.write(b),
      onClose: () => socket.end(),
    });
    socket.on("data", (d: Buffer) => {
      speaker.receive(d);
      onData?.(socket, speaker);
    });
    socket.on("close", () => speaker.close());
  });
}

export { prng } from "./prng.ts";
