/**
 * The agent's gRPC connection through an HTTP CONNECT proxy (grpc-js's
 * grpc.http_connect_target / grpc.http_connect_creds, which use node:http's CONNECT
 * support): a session relays through the tunnel, the proxy sees the gateway's address and
 * the Basic credentials, and a proxy that refuses the credentials (407) leaves the agent
 * without a Control stream and the router without a session.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, createServer, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import type { AgentConfig, GatewayConfig } from "../../src/config/types.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { makeTestPki, type TestPki } from "../support/tls.ts";
import { waitUntil } from "../support/wait.ts";

const PROXY_USER = "user";
const PROXY_PASS = "p@ss";
const PROXY_CREDENTIALS = `${PROXY_USER}:${PROXY_PASS}`;

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterAll(() => pki?.remove());

const cleanups = cleanupsAfterEach();

interface ConnectSeen {
  /** The request line's target, e.g. "127.0.0.1:4711". */
  target: string;
  headers: Record<string, string>;
  status: number;
  /** Bytes tunnelled each way once the tunnel was up. */
  bytesUp: number;
  bytesDown: number;
  /** The tunnel's first bytes from the agent (HTTP/2 preface, or a TLS record). */
  firstUp: Buffer;
}

/**
 * A minimal HTTP CONNECT proxy: reads the request head, demands Basic `credentials`
 * (407 otherwise), tunnels only to 127.0.0.1 and pipes bytes both ways.
 */
async function startConnectProxy(credentials: string) {
  const seen: ConnectSeen[] = [];
  const sockets = new Set<Socket>();
  const expected = `Basic ${Buffer.from(credentials).toString("base64")}`;
  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 16 * 1024) client.destroy();
        return;
      }
      client.off("data", onData);
      client.pause();
      const rest = head.subarray(end + 4);
      const [requestLine = "", ...headerLines] = head
        .subarray(0, end)
        .toString("latin1")
        .split("\r\n");
      const [method, target = ""] = requestLine.split(" ");
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        if (colon > 0)
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const record: ConnectSeen = {
        target,
        headers,
        status: 0,
        bytesUp: 0,
        bytesDown: 0,
        firstUp: Buffer.alloc(0),
      };
      seen.push(record);
      const reply = (status: number, reason: string, extra = "") => {
        record.status = status;
        client.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Length: 0\r\n\r\n`);
      };
      if (method !== "CONNECT") return reply(405, "Method Not Allowed");
      if (headers["proxy-authorization"] !== expected) {
        return reply(
          407,
          "Proxy Authentication Required",
          'Proxy-Authenticate: Basic realm="test"\r\n',
        );
      }
      const colon = target.lastIndexOf(":");
      const host = target.slice(0, colon);
      const port = Number(target.slice(colon + 1));
      if (host !== "127.0.0.1" && host !== "localhost") return reply(403, "Forbidden");
      const upstream = connect({ host: "127.0.0.1", port });
      sockets.add(upstream);
      upstream.on("close", () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.once("connect", () => {
        record.status = 200;
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        const sawUp = (d: Buffer) => {
          if (record.firstUp.length < 16) record.firstUp = Buffer.concat([record.firstUp, d]);
          record.bytesUp += d.length;
        };
        sawUp(rest);
        if (rest.length > 0) upstream.write(rest);
        client.on("data", sawUp);
        upstream.on("data", (d: Buffer) => {
          record.bytesDown += d.length;
        });
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port, seen };
}

interface Harness {
  gateway: RunningGateway;
  agent: RunningAgent;
  agentLogs: LogCapture;
  daemonGot: () => string;
  daemonConnections: () => number;
}

async function start(
  proxyPort: number,
  credentials: string,
  gw: Partial<GatewayConfig> = {},
  agentOverrides: (gatewayPort: number) => Partial<AgentConfig> = () => ({}),
): Promise<Harness> {
  let got = "";
  let connections = 0;
  const daemon = await startDaemon((socket) => {
    connections++;
    socket.on("data", (d: Buffer) => {
      got += d.toString();
      socket.write(d);
    });
    socket.on("error", () => {});
  });
  cleanups.push(() => daemon.server.close());
  const gateway = await startGateway(
    gatewayConfig({ devices: [forwardDevice("127.0.0.1", daemon.port)], ...gw }),
    captureLogs().logger,
  );
  cleanups.push(() => gateway.close());
  const agentLogs = captureLogs();
  const agent = await startAgent(
    agentConfig(gateway.port, {
      proxy: { host: "127.0.0.1", port: proxyPort, credentials },
      ...agentOverrides(gateway.port),
    }),
    agentLogs.logger,
  );
  cleanups.push(() => agent.close());
  return {
    gateway,
    agent,
    agentLogs,
    daemonGot: () => got,
    daemonConnections: () => connections,
  };
}

function openRouter(port: number): { socket: Socket; got: () => string } {
  const socket = connect({ host: "127.0.0.1", port });
  cleanups.push(() => socket.destroy());
  socket.on("error", () => {});
  let got = "";
  socket.on("data", (d: Buffer) => {
    got += d.toString();
  });
  return { socket, got: () => got };
}

describe("agent behind an HTTP CONNECT proxy", () => {
  test("a session relays through the proxy, which saw the gateway and the credentials", async () => {
    const proxy = await startConnectProxy(PROXY_CREDENTIALS);
    const h = await start(proxy.port, PROXY_CREDENTIALS);
    await waitUntil(() => h.agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the control stream to be ready through the proxy",
      diagnostics: () =>
        `control=${JSON.stringify(h.agent.status().control)} proxy saw=${JSON.stringify(proxy.seen)}`,
    });

    const router = openRouter(h.agent.listening[0]?.port ?? 0);
    router.socket.write("through the tunnel");
    await waitUntil(() => router.got() === "through the tunnel", {
      timeoutMs: 5_000,
      what: "the echo through agent, proxy, gateway and daemon",
    });
    expect(h.daemonGot()).toBe("through the tunnel");

    // Every connection to the gateway went through the proxy: Control and one Data one.
    expect(proxy.seen.length).toBeGreaterThanOrEqual(2);
    for (const c of proxy.seen) {
      expect(c.target).toBe(`127.0.0.1:${h.gateway.port}`);
      expect(c.headers.host).toBe(`127.0.0.1:${h.gateway.port}`);
      expect(c.headers["proxy-authorization"]).toBe(
        `Basic ${Buffer.from(PROXY_CREDENTIALS).toString("base64")}`,
      );
      expect(c.status).toBe(200);
    }
    // HTTP/2 really flowed through the tunnels (preface, settings, the relayed bytes).
    const tunnelled = proxy.seen.reduce((n, c) => n + c.bytesUp, 0);
    expect(tunnelled).toBeGreaterThan("through the tunnel".length);
    expect(proxy.seen.every((c) => c.bytesUp > 0 && c.bytesDown > 0)).toBe(true);
    for (const c of proxy.seen) expect(c.firstUp.toString("latin1")).toStartWith("PRI * HTTP/2.0");
    // The proxy password is a secret: not in any agent log line.
    for (const line of h.agentLogs.lines) {
      expect(line).not.toContain(PROXY_PASS);
      expect(line).not.toContain(Buffer.from(PROXY_CREDENTIALS).toString("base64"));
    }
    expect(h.agentLogs.find("agent started")[0]?.proxy).toBe(`127.0.0.1:${proxy.port}`);
  }, 15_000);

  test("credentials refused by the proxy (407): no control stream, no session", async () => {
    const proxy = await startConnectProxy(PROXY_CREDENTIALS);
    const h = await start(proxy.port, `${PROXY_USER}:wrong`);
    await waitUntil(() => proxy.seen.length > 0, {
      timeoutMs: 5_000,
      what: "the agent to try the proxy",
    });
    const router = openRouter(h.agent.listening[0]?.port ?? 0);
    router.socket.write("must not pass");
    await Bun.sleep(1_500);

    for (const c of proxy.seen) expect(c.status).toBe(407);
    const control = h.agent.status().control;
    expect(control.state).not.toBe("ready");
    expect(control.connected).toBe(false);
    // grpc-js reports a refused CONNECT without its status: the error says only UNAVAILABLE.
    expect(control.lastError).toMatch(/UNAVAILABLE/);
    expect(h.gateway.agents.all()).toHaveLength(0);
    expect(h.daemonConnections()).toBe(0);
    expect(router.got()).toBe("");
    const sessions = h.agent.status().sessions;
    expect(sessions.every((s) => s.state === "admitting")).toBe(true);
  }, 15_000);

  test("TLS to the gateway inside the tunnel: verified against the gateway's name", async () => {
    const proxy = await startConnectProxy(PROXY_CREDENTIALS);
    const h = await start(
      proxy.port,
      PROXY_CREDENTIALS,
      { insecure: false, tlsCert: pki.serverCertPath, tlsKey: pki.serverKeyPath },
      (port) => ({ insecure: false, target: { host: "localhost", port }, caFile: pki.caCertPath }),
    );
    await waitUntil(() => h.agent.status().control.state === "ready", {
      timeoutMs: 5_000,
      what: "the TLS control stream to be ready through the proxy",
      diagnostics: () =>
        `control=${JSON.stringify(h.agent.status().control)} proxy saw=${JSON.stringify(proxy.seen)}`,
    });
    const router = openRouter(h.agent.listening[0]?.port ?? 0);
    router.socket.write("tls in a tunnel");
    await waitUntil(() => router.got() === "tls in a tunnel", {
      timeoutMs: 5_000,
      what: "the echo through the proxy over TLS",
    });
    expect(h.daemonGot()).toBe("tls in a tunnel");
    expect(proxy.seen.length).toBeGreaterThanOrEqual(2);
    for (const c of proxy.seen) {
      expect(c.target).toBe(`localhost:${h.gateway.port}`);
      expect(c.status).toBe(200);
      expect(c.bytesUp).toBeGreaterThan(0);
      expect(c.firstUp[0]).toBe(0x16); // a TLS handshake record, not a cleartext preface
    }
  }, 15_000);
});
