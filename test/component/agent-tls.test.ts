/**
 * TLS between agent and gateway with a throwaway private CA: trusted through --ca-file by
 * DNS name, by IP address (checked against the certificate's IP SANs, as the reference
 * does), or by IP address with --tls-server-name; without the CA the Control stream never
 * comes up and the error says the certificate is not trusted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { makeTestPki, type TestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterAll(() => pki?.remove());

const cleanups = cleanupsAfterEach();

interface Harness {
  gateway: RunningGateway;
  agent: RunningAgent;
  agentLogs: LogCapture;
  daemonGot: () => string;
}

async function start(
  agent: (port: number) => Partial<AgentConfig>,
  gatewayHost = "127.0.0.1",
): Promise<Harness> {
  let got = "";
  const daemon = await startDaemon((socket) => {
    socket.on("data", (d: Buffer) => {
      got += d.toString();
      socket.write(d);
    });
    socket.on("error", () => {});
  });
  cleanups.push(() => daemon.server.close());
  const gateway = await startGateway(
    gatewayConfig({
      insecure: false,
      listen: { host: gatewayHost, port: 0 },
      tlsCert: pki.serverCertPath,
      tlsKey: pki.serverKeyPath,
      devices: [forwardDevice("127.0.0.1", daemon.port)],
    }),
    captureLogs().logger,
  );
  cleanups.push(() => gateway.close());
  const agentLogs = captureLogs();
  const running = await startAgent(
    agentConfig(gateway.port, { insecure: false, ...agent(gateway.port) }),
    agentLogs.logger,
  );
  cleanups.push(() => running.close());
  return { gateway, agent: running, agentLogs, daemonGot: () => got };
}

async function expectRelay(h: Harness): Promise<void> {
  await waitUntil(() => h.agent.status().control.state === "ready", {
    timeoutMs: 5_000,
    what: "the TLS control stream to be ready",
    diagnostics: () => JSON.stringify(h.agent.status().control),
  });
  const router = connect({ host: "127.0.0.1", port: h.agent.listening[0]?.port ?? 0 });
  cleanups.push(() => router.destroy());
  router.on("error", () => {});
  let got = "";
  router.on("data", (d: Buffer) => {
    got += d.toString();
  });
  router.write("over tls");
  await waitUntil(() => got === "over tls", {
    timeoutMs: 5_000,
    what: "the echo over the TLS Data stream",
  });
  expect(h.daemonGot()).toBe("over tls");
  expect(h.agent.status().sessions[0]?.state).toBe("relaying");
}

/** The Control stream fails on the certificate check, with `why` in its error. */
async function expectRefused(h: Harness, why: RegExp): Promise<void> {
  await waitUntil(() => h.agent.status().control.lastError, {
    timeoutMs: 5_000,
    what: "the control stream to fail",
  });
  const control = h.agent.status().control;
  expect(control.state).not.toBe("ready");
  expect(control.messagesRx).toBe(0);
  expect(control.lastError).toMatch(why);
  expect(h.gateway.agents.all()).toHaveLength(0);
}

describe("agent to gateway over TLS", () => {
  test("target by DNS name, private CA from --ca-file: session relays", async () => {
    const h = await start((port) => ({
      target: { host: "localhost", port },
      caFile: pki.caCertPath,
    }));
    await expectRelay(h);
    expect(h.agentLogs.find("agent started")[0]).toMatchObject({ tls: true });
  }, 15_000);

  test("target by IP address with --tls-server-name: session relays", async () => {
    const h = await start((port) => ({
      target: { host: "127.0.0.1", port },
      tlsServerName: "gateway.test",
      caFile: pki.caCertPath,
    }));
    await expectRelay(h);
  }, 15_000);

  test("target by IP address alone: the certificate's IP SAN is verified, session relays", async () => {
    const h = await start((port) => ({
      target: { host: "127.0.0.1", port },
      caFile: pki.caCertPath,
    }));
    await expectRelay(h);
  }, 15_000);

  test("target by an IP address the certificate does not carry is refused", async () => {
    // The test certificate names 127.0.0.1 and ::1, not 127.0.0.2 (also loopback).
    const h = await start(
      (port) => ({ target: { host: "127.0.0.2", port }, caFile: pki.caCertPath }),
      "127.0.0.2",
    );
    await expectRefused(h, /127\.0\.0\.2/);
  }, 15_000);

  test("without the private CA the certificate is not trusted: never ready", async () => {
    const h = await start((port) => ({ target: { host: "localhost", port } }));
    await waitUntil(() => h.agent.status().control.lastError, {
      timeoutMs: 5_000,
      what: "the control stream to fail",
    });
    await Bun.sleep(500);
    const control = h.agent.status().control;
    expect(control.state).not.toBe("ready");
    expect(control.connected).toBe(false);
    expect(control.messagesRx).toBe(0);
    expect(control.lastError).toMatch(
      /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer/i,
    );
    expect(h.gateway.agents.all()).toHaveLength(0);
  }, 15_000);

  test("a --tls-server-name the certificate does not carry is refused", async () => {
    const h = await start((port) => ({
      target: { host: "127.0.0.1", port },
      tlsServerName: "other.test",
      caFile: pki.caCertPath,
    }));
    await expectRefused(h, /other\.test/);
  }, 15_000);
});
