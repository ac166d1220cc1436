/**
 * `bgproxy standalone` in-process: the command line's config, a router's session through
 * the embedded agent and gateway into the collector, visible on /api/devices.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { Afi, MessageType, Safi } from "../../src/bgp/constants.ts";
import { BgpFramer } from "../../src/bgp/framer.ts";
import { encodeKeepalive } from "../../src/bgp/keepalive.ts";
import { encodeOpen } from "../../src/bgp/open.ts";
import { encodeUpdate } from "../../src/bgp/update-encoder.ts";
import { parseStandaloneConfig } from "../../src/config/standalone-config.ts";
import type { DeviceView } from "../../src/gateway/device-view.ts";
import { type RunningStandalone, startStandalone } from "../../src/standalone.ts";
import { testLogger } from "../support/stack.ts";
import { waitUntil } from "../support/wait.ts";

let running: RunningStandalone | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe("standalone", () => {
  test("accepts any router without --config and counts its prefixes", async () => {
    const config = parseStandaloneConfig(
      [
        "--listen",
        "127.0.0.1:0",
        "--gateway-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--metrics-port",
        "0",
      ],
      {},
    );
    expect(config.acceptAny).toBe(true);
    running = await startStandalone(config, testLogger());
    const port = running.agent.listening[0]?.port ?? 0;
    expect(port).toBeGreaterThan(0);

    const socket = connect({ host: "127.0.0.1", port });
    const framer = new BgpFramer();
    const types: number[] = [];
    socket.on("data", (d: Buffer) => {
      for (const f of framer.push(new Uint8Array(d))) types.push(f.type);
    });
    await new Promise((r) => socket.once("connect", r));
    socket.write(
      encodeOpen({
        asn: 65001,
        holdTime: 30,
        routerId: "10.1.1.1",
        capabilities: { multiprotocol: [{ afi: Afi.IPV4, safi: Safi.UNICAST }] },
      }),
    );
    await waitUntil(() => types.includes(MessageType.OPEN), {
      timeoutMs: 5_000,
      what: "the collector's OPEN",
    });
    socket.write(encodeKeepalive());
    socket.write(
      encodeUpdate({
        origin: 0,
        asPath: [65001],
        nextHop: "10.1.1.1",
        nlri: ["192.0.2.0/24", "198.51.100.0/24"],
      }),
    );

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
    socket.destroy();
  }, 20_000);
});
