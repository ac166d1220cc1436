/**
 * A running gateway re-reads its configuration (what SIGHUP and POST /admin/reload do):
 * added devices are accepted, removed devices' sessions end, a changed device's sessions
 * restart only when its target, forward address or MD5 key changed, a bad file is refused
 * with one log line. And the duplicate-device rule: one agent per device at a time.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { MessageType } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import type { DeviceConfig, GatewayConfig } from "../../src/config/types.ts";
import { ConfigError } from "../../src/core/errors.ts";
import type { DeviceView } from "../../src/gateway/device-view.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.ts";
import { captureLogs, type LogCapture } from "../support/log-capture.ts";
import { agentConfig, forwardDevice, gatewayConfig, startDaemon } from "../support/stack.ts";
import { cleanupsAfterEach } from "../support/test-cleanups.ts";
import { waitUntil, within } from "../support/wait.ts";

const cleanups = cleanupsAfterEach();

interface Harness {
  gateway: RunningGateway;
  logs: LogCapture;
  /** What the next reload reads: a config, or an error to throw (a bad file). */
  next: { config: GatewayConfig | Error };
}

async function startGatewayWith(devices: DeviceConfig[]): Promise<Harness> {
  const logs = captureLogs();
  const next: Harness["next"] = { config: gatewayConfig({ devices }) };
  const gateway = await startGateway(gatewayConfig({ devices }), logs.logger, {
    readConfig: () => {
      if (next.config instanceof Error) throw next.config;
      return next.config;
    },
  });
  cleanups.push(() => gateway.close());
  return { gateway, logs, next };
}

async function startTestAgent(gatewayPort: number): Promise<RunningAgent> {
  const agent = await startAgent(agentConfig(gatewayPort), captureLogs().logger);
  cleanups.push(() => agent.close());
  await waitUntil(() => agent.status().control.state === "ready", {
    timeoutMs: 5_000,
    what: "the agent's control stream",
  });
  return agent;
}

/** A scripted router on 127.0.0.1: sends OPEN, answers the first OPEN with a KEEPALIVE. */
interface Router {
  socket: Socket;
  types: number[];
  closed: Promise<void>;
}

function bgpRouter(port: number): Router {
  const socket = connect({ host: "127.0.0.1", port });
  cleanups.push(() => socket.destroy());
  const framer = new BgpFramer();
  const types: number[] = [];
  socket.on("error", () => {});
  socket.once("connect", () =>
    socket.write(encodeOpen({ asn: 65001, holdTime: 90, routerId: "10.0.0.1", capabilities: {} })),
  );
  socket.on("data", (d: Buffer) => {
    for (const f of framer.push(new Uint8Array(d))) {
      types.push(f.type);
      if (f.type === MessageType.OPEN) socket.write(encodeKeepalive());
    }
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, types, closed };
}

async function deviceViews(g: RunningGateway): Promise<DeviceView[]> {
  const res = await fetch(`http://127.0.0.1:${g.httpPort}/api/devices`);
  return (await res.json()) as DeviceView[];
}

const collectorDevice = (name: string): DeviceConfig => ({
  name,
  id: 7,
  site: 0,
  ip: "127.0.0.1",
  target: { kind: "collector" },
});

describe("gateway reload", () => {
  test("a device added by a reload is accepted: its router reaches Established", async () => {
    const h = await startGatewayWith([]);
    h.next.config = gatewayConfig({ devices: [collectorDevice("added")] });
    // Through the HTTP admin call; SIGHUP calls the same reload.
    const res = await fetch(`http://127.0.0.1:${h.gateway.httpPort}/admin/reload`, {
      method: "POST",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ kind: "applied", changes: { added: "added" } });
    expect(h.logs.find("reloaded")).toHaveLength(1);

    const agent = await startTestAgent(h.gateway.port);
    const router = bgpRouter(agent.listening[0]?.port ?? 0);
    await waitUntil(async () => (await deviceViews(h.gateway))[0]?.state === "established", {
      timeoutMs: 5_000,
      what: "the added device to be Established",
    });
    expect(router.types).toContain(MessageType.OPEN);
  });

  test("a removed device's session ends; a bad file is refused with one line and changes nothing", async () => {
    const h = await startGatewayWith([collectorDevice("r1")]);
    const agent = await startTestAgent(h.gateway.port);
    const router = bgpRouter(agent.listening[0]?.port ?? 0);
    await waitUntil(() => h.gateway.registry.all()[0]?.established, {
      timeoutMs: 5_000,
      what: "r1 Established",
    });

    h.next.config = new ConfigError("gateway.toml:3: device[1].ip: not an address");
    const refused = h.gateway.reload();
    expect(refused).toEqual({
      kind: "refused",
      error: "gateway.toml:3: device[1].ip: not an address",
    });
    const refusals = h.logs.records().filter((r) => /reload/.test(r.msg));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.level).toBe("error");
    expect(h.gateway.registry.all().map((d) => d.config.name)).toEqual(["r1"]);
    expect(h.gateway.sessions.size).toBe(1);
    const res = await fetch(`http://127.0.0.1:${h.gateway.httpPort}/admin/reload`, {
      method: "POST",
    });
    expect(res.status).toBe(422);

    h.next.config = gatewayConfig({ devices: [] });
    expect(h.gateway.reload()).toMatchObject({ kind: "applied", sessionsEnded: 1 });
    await within(router.closed, 5_000, "the removed device's router connection to close");
    expect(h.gateway.registry.all()).toEqual([]);
    await waitUntil(() => h.gateway.sessions.size === 0, { timeoutMs: 2_000, what: "no sessions" });
    expect(h.logs.find("session ended").some((r) => r.error === "device removed by a reload")).toBe(
      true,
    );
  });

  test("a new forward address restarts the device's sessions; a new name alone does not", async () => {
    const daemonSockets: Socket[][] = [[], []];
    const d1 = await startDaemon((s) => {
      s.on("error", () => {});
      daemonSockets[0]?.push(s);
    });
    const d2 = await startDaemon((s) => {
      s.on("error", () => {});
      daemonSockets[1]?.push(s);
    });
    cleanups.push(
      () => d1.server.close(),
      () => d2.server.close(),
    );
    const first = forwardDevice("127.0.0.1", d1.port, { name: "edge" });
    const h = await startGatewayWith([first]);
    const agent = await startTestAgent(h.gateway.port);
    const router = bgpRouter(agent.listening[0]?.port ?? 0);
    await waitUntil(() => daemonSockets[0]?.length === 1, { timeoutMs: 5_000, what: "daemon 1" });

    h.next.config = gatewayConfig({ devices: [{ ...first, name: "edge-renamed", id: 99 }] });
    expect(h.gateway.reload()).toMatchObject({ kind: "applied", sessionsEnded: 0 });
    expect((await deviceViews(h.gateway))[0]).toMatchObject({ name: "edge-renamed", sessions: 1 });
    expect(router.socket.destroyed).toBe(false);

    const moved = forwardDevice("127.0.0.1", d2.port, { name: "edge-renamed", id: 99 });
    h.next.config = gatewayConfig({ devices: [moved] });
    expect(h.gateway.reload()).toMatchObject({
      kind: "applied",
      changes: { restarted: "edge-renamed(forward)" },
      sessionsEnded: 1,
    });
    await within(router.closed, 5_000, "the router connection to close");
    // The router's next connection goes to the new address.
    bgpRouter(agent.listening[0]?.port ?? 0);
    await waitUntil(() => daemonSockets[1]?.length === 1, { timeoutMs: 5_000, what: "daemon 2" });
  });
});

describe("duplicate device", () => {
  test("a second agent relaying the same device is refused, logged once; the first session stays", async () => {
    const h = await startGatewayWith([collectorDevice("r1")]);
    const a = await startTestAgent(h.gateway.port);
    const b = await startTestAgent(h.gateway.port);
    const viaA = bgpRouter(a.listening[0]?.port ?? 0);
    await waitUntil(() => h.gateway.registry.all()[0]?.established, {
      timeoutMs: 5_000,
      what: "r1 Established through agent A",
    });
    for (let i = 0; i < 2; i++) {
      const viaB = bgpRouter(b.listening[0]?.port ?? 0);
      await within(viaB.closed, 5_000, "agent B's router connection to be closed");
    }
    const warned = h.logs.find(/refused a second agent/).filter((r) => r.level === "warn");
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ device: "r1" });
    expect(h.logs.find(/refused a second agent/)).toHaveLength(2);
    expect(viaA.socket.destroyed).toBe(false);
    const r1 = h.gateway.registry.all()[0];
    expect(r1?.established).toBe(true);
    expect(r1 && h.gateway.sessions.relaying(r1)).toHaveLength(1);
  });
});
