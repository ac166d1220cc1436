/**
 * `bgproxy standalone` in-process: the command line's config, a router's session through
 * the embedded agent and gateway into the collector, visible on /api/devices.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { CeaseSubcode, ErrorCode, MessageType } from "../../src/bgp/constants.ts";
import { decodeNotification, encodeNotification } from "../../src/bgp/notification.ts";
import { parseStandaloneConfig } from "../../src/config/standalone-config.ts";
import type { DeviceView } from "../../src/gateway/device-view.ts";
import { type RunningStandalone, startStandalone } from "../../src/standalone.ts";
import { captureLogs } from "../support/log-capture.ts";
import { ScriptedRouter } from "../support/scripted-router.ts";
import { testLogger } from "../support/stack.ts";
import { waitUntil, within } from "../support/wait.ts";

let running: RunningStandalone | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** How the gateway's relay of each session ended, as its log says. */
const gatewayEnds = (logs: ReturnType<typeof captureLogs>) =>
  logs
    .records()
    .filter((r) => r.component === "gateway/data" && /^session (closed|ended)$/.test(r.msg))
    .map((r) => ({ msg: r.msg, reason: r.reason }));

/** The embedded stack on ephemeral loopback ports (no demo). */
const loopbackConfig = () =>
  parseStandaloneConfig(
    [
      "--listen=127.0.0.1:0",
      "--gateway-listen=127.0.0.1:0",
      "--http-listen=127.0.0.1:0",
      "--metrics-port=0",
    ],
    {},
  );

describe("standalone", () => {
  test("accepts any router without --config and counts its prefixes", async () => {
    const config = loopbackConfig();
    expect(config.acceptAny).toBe(true);
    running = await startStandalone(config, testLogger());
    const port = running.agent.listening[0]?.port ?? 0;
    expect(port).toBeGreaterThan(0);

    // It answers the collector's OPEN with a KEEPALIVE and its two prefixes.
    const router = new ScriptedRouter(port, ["192.0.2.0/24", "198.51.100.0/24"]);
    const url = `http://127.0.0.1:${running.gateway.httpPort}/api/devices`;
    const device = await waitUntil(
      async () => {
        const list = (await (await fetch(url)).json()) as DeviceView[];
        const d = list.find((x) => x.ip === "127.0.0.1");
        return d?.state === "established" && d.prefixes.ipv4 === 2 ? d : undefined;
      },
      { timeoutMs: 5_000, what: "the router to show as established with 2 prefixes" },
    );
    expect(device.target).toBe("collector");
    router.destroy();
  }, 20_000);

  test("stopping it (Ctrl-C): a router hears the collector's Cease / Administrative Shutdown, then the end of its connection; no drain", async () => {
    const logs = captureLogs();
    const stack = await startStandalone(loopbackConfig(), logs.logger);
    running = stack; // closed by afterEach if the test fails before it stops the stack
    const router = new ScriptedRouter(stack.agent.listening[0]?.port ?? 0, ["192.0.2.0/24"]);
    await waitUntil(() => router.count(MessageType.KEEPALIVE) > 0, {
      timeoutMs: 5_000,
      what: "the collector's KEEPALIVE (Established)",
    });
    running = undefined;
    await stack.close();
    await within(router.closed, 5_000, "the router's connection to end");
    const notifications = router.received.filter((f) => f.type === MessageType.NOTIFICATION);
    expect(
      notifications.map((n) => decodeNotification(n.body)).map((n) => [n.code, n.subcode]),
    ).toEqual([[ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN]]);
    // It came from the collector; no drain (there is no next gateway), so no RESTART and no
    // re-open for the stopping gateway to refuse.
    expect(logs.find(/^BGP session closed: sent Cease\/Administrative Shutdown/)).toHaveLength(1);
    expect(logs.find(/^draining/)).toEqual([]);
    expect(logs.find(/^re-open refused/)).toEqual([]);
    // The gateway's relay ended with the RPC, not as a stream the agent cut; the agent's
    // session ended as the router closed, not cut by the agent's own stop.
    expect(gatewayEnds(logs)).toEqual([{ msg: "session closed", reason: "closed" }]);
    expect(logs.find("session ended")).toEqual([]);
  }, 20_000);

  test("a router leaving (Cease, then FIN): the gateway's relay ends as closed, not as a cut stream", async () => {
    const logs = captureLogs();
    running = await startStandalone(loopbackConfig(), logs.logger);
    const router = new ScriptedRouter(running.agent.listening[0]?.port ?? 0, ["192.0.2.0/24"]);
    await waitUntil(() => router.count(MessageType.KEEPALIVE) > 0, {
      timeoutMs: 5_000,
      what: "the collector's KEEPALIVE (Established)",
    });
    router.socket.end(
      encodeNotification({
        code: ErrorCode.CEASE,
        subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
        data: new Uint8Array(),
      }),
    );
    await within(router.closed, 5_000, "the router's connection to end");
    await waitUntil(() => gatewayEnds(logs).length > 0, {
      timeoutMs: 5_000,
      what: "the gateway's relay to end",
    });
    // grpc-js reports the stream's normal close as "cancelled" too: that is no cut.
    expect(gatewayEnds(logs)).toEqual([{ msg: "session closed", reason: "closed" }]);
    expect(logs.find(/the agent's stream was cut/)).toEqual([]);
  }, 20_000);

  test("--demo: a built-in router's table shows on /api/devices within seconds, and moves", async () => {
    const config = parseStandaloneConfig(
      [
        "--demo",
        "--listen=127.0.0.1:0",
        "--gateway-listen=127.0.0.1:0",
        "--http-listen=127.0.0.1:0",
        "--metrics-port=0",
      ],
      {},
    );
    expect(config.demo).toEqual({ connectHost: "127.0.0.1", source: "127.0.0.2" });
    running = await startStandalone(config, testLogger());
    const url = `http://127.0.0.1:${running.gateway.httpPort}/api/devices`;
    const demo = async () =>
      ((await (await fetch(url)).json()) as DeviceView[]).find((x) => x.ip === "127.0.0.2");
    const first = await waitUntil(
      async () => {
        const d = await demo();
        return d?.state === "established" && d.prefixes.ipv4 === 1000 ? d : undefined;
      },
      { timeoutMs: 5_000, what: "the demo device with its 1000 IPv4 prefixes" },
    );
    expect(first.prefixes.ipv6).toBe(200);
    // A churn round (every 5 s) withdraws a slice: the counts and UPDATEs move.
    const moved = await waitUntil(
      async () => {
        const d = await demo();
        return d && d.updates > first.updates ? d : undefined;
      },
      { timeoutMs: 8_000, what: "a churn round" },
    );
    expect(moved.prefixes).toEqual({ ipv4: 950, ipv6: 150 });
    expect(moved.state).toBe("established");
    // The agent sees the session too.
    expect(running.agent.status().sessions).toHaveLength(1);
    expect(running.demo?.state).toBe("established");
  }, 25_000);

  test("--demo with --config adds the demo device to the file's devices", () => {
    const io = {
      fileProblem: () => undefined,
      readText: () =>
        '[collector]\nasn = 64512\nrouter_id = "192.0.2.1"\n\n[[device]]\nname = "r1"\nid = 7\nip = "10.0.0.1"\ntarget = "collector"\n',
      randomToken: () => "tok",
    };
    const config = parseStandaloneConfig(["--demo", "--config=/x.toml"], {}, io);
    expect(config.gateway.devices.map((d) => [d.name, d.id, d.ip])).toEqual([
      ["r1", 7, "10.0.0.1"],
      ["demo-router", 8, "127.0.0.2"],
    ]);
    expect(parseStandaloneConfig(["--config=/x.toml"], {}, io).gateway.devices).toHaveLength(1);
  });
});
