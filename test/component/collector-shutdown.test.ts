/**
 * How a collector session ends, as the router sees it and as the gateway logs it: a
 * graceful gateway stop sends Cease / Administrative Shutdown with a shutdown
 * communication (RFC 8203); a lost agent link is logged as that, not as the router
 * closing the session.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { Afi, CeaseSubcode, ErrorCode, MessageType, Safi } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { decodeNotification } from "../../src/bgp/notification.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import { agentConfig, gatewayConfig } from "../support/stack.ts";
import { tcpLink } from "../support/tcp-link.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface Established {
  gateway: RunningGateway;
  agent: RunningAgent;
  gwLogs: LogCapture;
  router: Socket;
  received: { type: number; body: Uint8Array }[];
  routerClosed: () => boolean;
  cutLink: () => void;
}

async function establish(): Promise<Established> {
  const gwLogs = captureLogs();
  const gateway = await startGateway(
    gatewayConfig({
      collector: { asn: 64512, routerId: "192.0.2.1", holdTime: 90 },
      devices: [
        { name: "edge-r1", id: 1001, site: 0, ip: "127.0.0.1", target: { kind: "collector" } },
      ],
    }),
    gwLogs.logger,
  );
  cleanups.push(() => gateway.close());
  const link = await tcpLink(gateway.port);
  cleanups.push(() => link.close());
  const agent = await startAgent(agentConfig(link.port), captureLogs().logger);
  cleanups.push(() => agent.close());
  const router = connect({ host: "127.0.0.1", port: agent.listening[0]?.port ?? 0 });
  cleanups.push(() => router.destroy());
  router.on("error", () => {});
  let closed = false;
  router.on("close", () => {
    closed = true;
  });
  const framer = new BgpFramer();
  const received: { type: number; body: Uint8Array }[] = [];
  router.on("data", (d: Buffer) => {
    for (const f of framer.push(new Uint8Array(d)))
      received.push({ type: f.type, body: f.body.slice() });
  });
  await new Promise((r) => router.once("connect", r));
  router.write(
    encodeOpen({
      asn: 65001,
      holdTime: 90,
      routerId: "10.0.0.1",
      capabilities: { multiprotocol: [{ afi: Afi.IPV4, safi: Safi.UNICAST }] },
    }),
  );
  await waitUntil(() => received.some((m) => m.type === MessageType.OPEN), {
    timeoutMs: 5_000,
    what: "the collector's OPEN",
  });
  router.write(encodeKeepalive());
  await waitUntil(() => gateway.registry.all()[0]?.established, {
    timeoutMs: 5_000,
    what: "the collector session to be Established",
  });
  return {
    gateway,
    agent,
    gwLogs,
    router,
    received,
    routerClosed: () => closed,
    cutLink: link.cut,
  };
}

describe("collector session endings", () => {
  test("a graceful gateway stop sends Cease / Administrative Shutdown with a message", async () => {
    const h = await establish();

    await h.gateway.close();
    const notification = await waitUntil(
      () => h.received.find((m) => m.type === MessageType.NOTIFICATION),
      { timeoutMs: 3_000, what: "a NOTIFICATION at the router" },
    );
    const n = decodeNotification(notification.body);
    expect(n.code).toBe(ErrorCode.CEASE);
    expect(n.subcode).toBe(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN);
    expect(n.shutdownMessage).toMatch(/gateway/i);
    await waitUntil(h.routerClosed, { timeoutMs: 3_000, what: "the router's connection to close" });
    const closedLine = h.gwLogs.find(/^BGP session closed/)[0];
    expect(closedLine?.msg).not.toMatch(/router closed/);
  }, 20_000);

  test("a lost agent link is not logged as the router closing the session", async () => {
    const h = await establish();
    h.cutLink();
    await waitUntil(() => h.gwLogs.find(/^BGP session closed/).length > 0, {
      timeoutMs: 5_000,
      what: "the gateway to log the session's end",
    });
    const closedLine = h.gwLogs.find(/^BGP session closed/)[0];
    expect(closedLine?.msg).not.toMatch(/router closed/);
  }, 20_000);
});
