/**
 * A WAN blip between agent and gateway that is shorter than the BGP hold time: the
 * relayed session must survive it. 35 s of silence is longer than the old transport
 * keepalive allowed (a 20 s ping interval with a 10 s timeout on the agent, 30 s / 10 s on
 * the gateway), so this failed before the keepalive followed the sessions' hold time.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { startAgent } from "../../src/agent/agent.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { tcpLink } from "../support/tcp-link.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

describe("a 35 s WAN blip", () => {
  test("does not end a relayed session", async () => {
    let daemonConnections = 0;
    let got = "";
    const daemon = await startDaemon((socket) => {
      daemonConnections++;
      socket.on("error", () => {});
      socket.on("data", (d: Buffer) => {
        got += d.toString();
        socket.write(d);
      });
    });
    cleanups.push(() => daemon.server.close());
    const gateway = await startGateway(
      gatewayConfig({ devices: [forwardDevice("127.0.0.1", daemon.port)] }),
      captureLogs().logger,
    );
    cleanups.push(() => gateway.close());
    const link = await tcpLink(gateway.port);
    cleanups.push(() => link.close());
    const agent = await startAgent(agentConfig(link.port), captureLogs().logger);
    cleanups.push(() => agent.close());
    await waitUntil(() => agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the control stream",
    });
    const router = connect({ host: "127.0.0.1", port: agent.listening[0]?.port ?? 0 });
    cleanups.push(() => router.destroy());
    router.on("error", () => {});
    let echoed = "";
    let routerClosed = false;
    router.on("data", (d: Buffer) => {
      echoed += d.toString();
    });
    router.on("close", () => {
      routerClosed = true;
    });
    router.write("before ");
    await waitUntil(() => echoed === "before ", { timeoutMs: 5_000, what: "the first echo" });

    link.pause();
    await Bun.sleep(35_000);
    link.resume();

    router.write("after");
    await waitUntil(() => echoed === "before after", {
      timeoutMs: 10_000,
      what: "the echo after the blip, on the same session",
      diagnostics: () =>
        JSON.stringify({ echoed, routerClosed, sessions: agent.status().sessions }),
    });
    expect(routerClosed).toBe(false);
    expect(daemonConnections).toBe(1);
    expect(got).toBe("before after");
    expect(agent.status().sessionsTotal).toBe(1);
  }, 70_000);
});
