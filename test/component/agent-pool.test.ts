/**
 * `--multi N`: Data streams share HTTP/2 connections N at a time. Seen from the gateway
 * (which HTTP/2 connection each Data call came on) and from the kernel (which TCP
 * connections to the gateway are open); spare connections close when their sessions end,
 * down to one warm connection that the next session reuses.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { startAgent } from "../../src/agent/agent.ts";
import { systemClock } from "../../src/core/clock.ts";
import { AgentDirectory } from "../../src/gateway/agent-directory.ts";
import { controlService } from "../../src/gateway/control-service.ts";
import { dataService } from "../../src/gateway/data-service.ts";
import { DeviceRegistry } from "../../src/gateway/device-registry.ts";
import { DeviceResolver } from "../../src/gateway/device-resolver.ts";
import { DeviceTracker } from "../../src/gateway/device-tracker.ts";
import { connectForward } from "../../src/gateway/forward-target.ts";
import { MetadataKey, readMetadataString } from "../../src/proto/metadata.ts";
import { type ProxyServiceServer, proxyServiceDefinition } from "../../src/proto/service.ts";
import { bindLoopback } from "../support/grpc-loopback.ts";
import { captureLogs } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface DataCallSeen {
  sessionId: string;
  /** The agent's port of the HTTP/2 connection the call came on. */
  peerPort: number;
}

/**
 * The gateway's real Control and Data services on a grpc.Server of our own, so that each
 * Data call's connection can be recorded.
 */
async function startObservedGateway(daemonPort: number) {
  const logger = captureLogs().logger;
  const config = gatewayConfig({ devices: [forwardDevice("127.0.0.1", daemonPort)] });
  const resolver = new DeviceResolver(new DeviceRegistry(config.devices), false);
  const data = dataService({
    accounts: config.accounts,
    resolver,
    logger,
    tracker: new DeviceTracker(systemClock),
    openTarget: (device) => {
      const target = device.config.target;
      if (target.kind !== "forward") throw new Error("forward devices only");
      return connectForward(target.forward, target.source);
    },
  });
  const dataCalls: DataCallSeen[] = [];
  const implementation: ProxyServiceServer = {
    control: controlService({
      resolver,
      agents: new AgentDirectory(),
      logger,
      accounts: config.accounts,
    }),
    data(call) {
      const peer = call.getPeer();
      dataCalls.push({
        sessionId: readMetadataString(call.metadata, MetadataKey.SESSION_ID) ?? "",
        peerPort: Number(peer.slice(peer.lastIndexOf(":") + 1)),
      });
      data(call);
    },
  };
  const server = new grpc.Server();
  server.addService(proxyServiceDefinition, implementation);
  const port = await bindLoopback(server);
  cleanups.push(() => server.forceShutdown());
  return { port, dataCalls };
}

/**
 * The peer ports of the ESTABLISHED TCP connections accepted on 127.0.0.1:`port`, read
 * from the kernel's table: what is really open, whatever the client library believes.
 */
function acceptedConnections(port: number): Set<number> {
  const ports = new Set<number>();
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === "01") {
      ports.add(Number.parseInt(fields[2]?.split(":")[1] ?? "0", 16));
    }
  }
  return ports;
}

function countBy<T>(items: readonly T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

async function openRouter(port: number): Promise<{ socket: Socket; echo: () => string }> {
  const socket = connect({ host: "127.0.0.1", port });
  cleanups.push(() => socket.destroy());
  socket.on("error", () => {});
  let got = "";
  socket.on("data", (d: Buffer) => {
    got += d.toString();
  });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  return { socket, echo: () => got };
}

describe("channel pool (--multi)", () => {
  test("5 sessions with --multi 2 use 3 HTTP/2 connections; spares close to one warm", async () => {
    const daemon = await startDaemon((socket) => {
      socket.on("data", (d: Buffer) => socket.write(d));
      socket.on("end", () => socket.end());
      socket.on("error", () => {});
    });
    cleanups.push(() => daemon.server.close());
    const gw = await startObservedGateway(daemon.port);
    const agent = await startAgent(agentConfig(gw.port, { multi: 2 }), captureLogs().logger);
    cleanups.push(() => agent.close());
    await waitUntil(() => agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the control stream to be ready",
    });
    const controlConnections = acceptedConnections(gw.port);
    expect(controlConnections.size).toBe(1);
    const routerPort = agent.listening[0]?.port ?? 0;

    const routers = await Promise.all([0, 1, 2, 3, 4].map(() => openRouter(routerPort)));
    for (const [i, r] of routers.entries()) r.socket.write(`router-${i}`);
    await waitUntil(() => routers.every((r, i) => r.echo() === `router-${i}`), {
      timeoutMs: 5_000,
      what: "every router's echo",
    });

    const status = agent.status();
    expect(status.sessions).toHaveLength(5);
    expect(status.pool.connections).toBe(3);
    expect([...status.pool.streams].sort()).toEqual([1, 2, 2]);
    // At the gateway: 5 Data calls over 3 distinct connections, 2 + 2 + 1.
    expect(gw.dataCalls).toHaveLength(5);
    const perConnection = countBy(gw.dataCalls.map((c) => c.peerPort));
    expect(perConnection.size).toBe(3);
    expect([...perConnection.values()].sort()).toEqual([1, 2, 2]);
    // The Control stream has its own connection, not shared with any Data call.
    for (const p of controlConnections) expect(perConnection.has(p)).toBe(false);
    // The kernel agrees: 1 control + 3 data connections are open to the gateway.
    const open = acceptedConnections(gw.port);
    expect(open.size).toBe(4);
    for (const p of perConnection.keys()) expect(open.has(p)).toBe(true);

    for (const r of routers) r.socket.end();
    await waitUntil(() => agent.status().sessions.length === 0, {
      timeoutMs: 5_000,
      what: "every session to end",
    });
    expect(agent.status().pool).toEqual({ connections: 1, streams: [0] });
    const remaining = await waitUntil(
      () => {
        const now = acceptedConnections(gw.port);
        return now.size === 2 ? now : undefined;
      },
      { timeoutMs: 5_000, what: "the spare connections to close at the TCP level" },
    );
    const warm = [...remaining].filter((p) => !controlConnections.has(p));
    expect(warm).toHaveLength(1);
    expect(perConnection.has(warm[0] ?? -1)).toBe(true);

    // The next session rides the warm connection: no new HTTP/2 connection.
    const next = await openRouter(routerPort);
    next.socket.write("again");
    await waitUntil(() => next.echo() === "again", {
      timeoutMs: 5_000,
      what: "the echo on the warm connection",
    });
    expect(gw.dataCalls).toHaveLength(6);
    expect(gw.dataCalls[5]?.peerPort).toBe(warm[0] ?? -1);
    expect(agent.status().pool).toEqual({ connections: 1, streams: [1] });
    expect(acceptedConnections(gw.port).size).toBe(2);
  }, 15_000);
});
